"""The Go binding with Debian's Go: go vet, go test, and the example, built by
cgo from the bundled C sources (no CMake build, no installed library)."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def go(env, *args, timeout=600):
    result = subprocess.run(["go", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_go_vet(go_env):
    go(go_env, "vet", "./...")


def test_go_test(go_env):
    assert "ok" in go(go_env, "test", "-race", "-count=1", "./bindings/go")


def test_go_test_under_asan(go_env):
    """The same tests with the C core built with AddressSanitizer (go -asan):
    a use after free or overflow across the cgo boundary fails them."""
    assert "ok" in go(go_env, "test", "-asan", "-count=1", "./bindings/go")


def test_example(go_env):
    assert "echoed 3 datagrams" in go(go_env, "run", "./examples/go/loopback")


def test_without_cgo_the_error_says_why(go_env):
    result = subprocess.run(["go", "build", "./bindings/go"], cwd=ROOT,
                            env={**go_env, "CGO_ENABLED": "0"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "ruphin_needs_cgo" in result.stderr


def test_a_module_outside_the_repository_builds_against_it(go_env, tmp_path):
    """A user's module that requires ruphin (here through a replace directive
    to this checkout) gets the C core with it: nothing else is installed."""
    (tmp_path / "go.mod").write_text(
        f"module user\n\ngo 1.19\n\nrequire ruphin v0.0.0\n\nreplace ruphin => {ROOT}\n")
    (tmp_path / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\truphin "ruphin/bindings/go"\n)\n\n'
        'func main() { fmt.Println("ruphin", ruphin.Version()) }\n')
    result = subprocess.run(["go", "run", "."], cwd=tmp_path, env=go_env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ruphin 0.")
