"""Where the original files live: a local folder, or an S3 bucket."""
