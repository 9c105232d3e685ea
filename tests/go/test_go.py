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


def write_user_module(path, module="ruphin", version="v0.0.0", replace=None):
    """A user's module in path that requires the binding (replace: from that
    directory) and prints its version."""
    path.mkdir(parents=True, exist_ok=True)
    go_mod = f"module user\n\ngo 1.19\n\nrequire {module} {version}\n"
    if replace:
        go_mod += f"\nreplace {module} => {replace}\n"
    (path / "go.mod").write_text(go_mod)
    (path / "main.go").write_text(
        f'package main\n\nimport (\n\t"fmt"\n\n\truphin "{module}/bindings/go"\n)\n\n'
        'func main() { fmt.Println("ruphin", ruphin.Version()) }\n')


def user_go(path, env, *args):
    result = subprocess.run(["go", *args], cwd=path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_module_outside_the_repository_builds_against_it(go_env, tmp_path):
    """A user's module that requires ruphin (here through a replace directive
    to this checkout) gets the C core with it: nothing else is installed."""
    write_user_module(tmp_path, replace=ROOT)
    assert user_go(tmp_path, go_env, "run", ".").startswith("ruphin 0.")


def test_a_user_module_vendors_the_c_core(go_env, tmp_path):
    """`go mod vendor` copies only the directories of Go packages; the
    ruphin_vendor-tagged files (bindings/go/vendor.go) make it take core/
    along, so that a vendored build still finds the sources cgo compiles."""
    write_user_module(tmp_path, replace=ROOT)
    user_go(tmp_path, go_env, "mod", "vendor")
    assert (tmp_path / "vendor" / "ruphin" / "core" / "src" / "node.c").exists()
    out = user_go(tmp_path, {**go_env, "GOFLAGS": "-mod=vendor"}, "run", ".")
    assert out.startswith("ruphin 0.")


# Debian's golang-golang-x-mod-dev: golang.org/x/mod/zip is the code the go
# command itself uses to make and check module zips.
X_MOD = "/usr/share/gocode"
ZIP_MAKER = """package main

import (
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// zipit MODULE VERSION DIR OUT
func main() {
	out, err := os.Create(os.Args[4])
	if err == nil {
		err = zip.CreateFromDir(out, module.Version{Path: os.Args[1], Version: os.Args[2]}, os.Args[3])
	}
	if err != nil {
		panic(err)
	}
}
"""


def copy_checkout(dest, module):
    """The files git would publish (tracked or new, not ignored), with the
    module path renamed to module."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in names:
        src = os.path.join(ROOT, name)
        if not name or not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(dest / name), exist_ok=True)
        with open(src, "rb") as f:
            data = f.read()
        if name == "go.mod":
            data = data.replace(b"\nmodule ruphin\n", f"\nmodule {module}\n".encode())
        elif name.endswith(".go"):
            data = data.replace(b'"ruphin/', f'"{module}/'.encode())
        (dest / name).write_bytes(data)


def test_the_module_zip_carries_the_c_core(go_env, tmp_path, tool_missing):
    """The module as a proxy would serve it: its zip, made by the go command's
    own rules (x/mod/zip: the go.mod's directory and below), from a file
    proxy; a user's module that requires it builds, also vendored. A zip needs
    a dot in the module path's first element, which "ruphin" has not until it
    is published under a host name: the copy is renamed example.com/ruphin."""
    if not os.path.exists(os.path.join(X_MOD, "src", "golang.org", "x", "mod", "zip")):
        tool_missing("golang.org/x/mod is missing (Debian: golang-golang-x-mod-dev)")
    module, version = "example.com/ruphin", "v0.1.0"
    copy_checkout(tmp_path / "mod", module)
    versions = tmp_path / "proxy" / module / "@v"
    versions.mkdir(parents=True)
    (tmp_path / "zipit.go").write_text(ZIP_MAKER)
    subprocess.run(["go", "run", str(tmp_path / "zipit.go"), module, version,
                    str(tmp_path / "mod"), str(versions / f"{version}.zip")],
                   env={**go_env, "GO111MODULE": "off", "GOPATH": X_MOD}, check=True,
                   capture_output=True, timeout=300)
    (versions / f"{version}.mod").write_bytes((tmp_path / "mod" / "go.mod").read_bytes())
    (versions / f"{version}.info").write_text(f'{{"Version": "{version}"}}\n')
    (versions / "list").write_text(version + "\n")
    env = {**go_env, "GOPROXY": f"file://{tmp_path / 'proxy'}", "GOSUMDB": "off",
           "GOMODCACHE": str(tmp_path / "modcache"), "GOFLAGS": "-mod=mod -modcacherw"}
    user = tmp_path / "user"
    write_user_module(user, module, version)
    assert user_go(user, env, "run", ".").startswith("ruphin 0.")
    user_go(user, env, "mod", "vendor")
    out = user_go(user, {**env, "GOFLAGS": "-mod=vendor -modcacherw"}, "run", ".")
    assert out.startswith("ruphin 0.")
