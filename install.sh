#!/bin/sh
# install.sh: installs the flowstate binary, either built with cargo from this checkout
# (--from-source) or downloaded from a GitHub release for this OS and CPU and verified against
# the release's SHA256SUMS. POSIX sh; `shellcheck install.sh` is clean (.ci/run checks it).
# `install.sh --help` lists the options; docs/deployment.md has the walk-through.
set -eu

# The GitHub repository (owner/name) releases are downloaded from: --repo, else
# $FLOWSTATE_REPO, else the one the release workflow stamps into the copy of this script it
# attaches to each release. A checkout's copy names none and asks, rather than guess one.
STAMPED_REPO=""
REPO="${FLOWSTATE_REPO:-$STAMPED_REPO}"
PREFIX="/usr/local"
VERSION="latest"
MODE="release"
ARCHIVE=""
SUMS=""
TARGET=""
DRY_RUN=0
TMP=""

usage() {
    cat <<EOF
Install flowstate, a monitoring daemon.

Usage:
  install.sh [options]                 download a release binary for this OS/CPU
  install.sh --from-source [options]   build this checkout with cargo and install it
  install.sh --archive FILE [options]  install a release archive downloaded beforehand

Options:
  --prefix DIR       install to DIR/bin/flowstate (default: /usr/local)
  --version VERSION  release to download, e.g. 0.1.0 (default: the latest)
  --target TRIPLE    release build to download (default: detected with uname), one of
                     x86_64-unknown-linux-musl, aarch64-unknown-linux-musl,
                     x86_64-apple-darwin, aarch64-apple-darwin
  --from-source      build with \`cargo build --release --locked\` in the checkout that holds
                     this script (needs a current stable Rust, https://rustup.rs)
  --archive FILE     a flowstate-TARGET.tar.gz from a release, checked against --sums
  --sums FILE        the release's SHA256SUMS (default: SHA256SUMS next to the archive)
  --repo OWNER/NAME  GitHub repository to download releases from (required unless
                     FLOWSTATE_REPO is set or this is the install.sh of a release)
  --dry-run          print what would be done, change nothing
  -h, --help         show this help

Environment:
  FLOWSTATE_REPO     GitHub repository to download from, like --repo (now: ${REPO:-none})

Downloads need curl or wget, and sha256sum or shasum. Every downloaded or given archive is
checked against SHA256SUMS before anything is installed.
EOF
}

say() {
    printf 'install.sh: %s\n' "$*"
}

die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

# Runs a command, or only shows it with --dry-run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$*"
    else
        "$@"
    fi
}

cleanup() {
    if [ -n "$TMP" ]; then
        rm -rf "$TMP"
    fi
}

need_value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        die "$1 needs a value (see --help)"
    fi
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            -h | --help)
                usage
                exit 0
                ;;
            --prefix)
                need_value "$@"
                PREFIX="$2"
                shift 2
                ;;
            --version)
                need_value "$@"
                VERSION="${2#v}"
                shift 2
                ;;
            --target)
                need_value "$@"
                TARGET="$2"
                shift 2
                ;;
            --from-source)
                MODE="source"
                shift
                ;;
            --archive)
                need_value "$@"
                MODE="archive"
                ARCHIVE="$2"
                shift 2
                ;;
            --sums)
                need_value "$@"
                SUMS="$2"
                shift 2
                ;;
            --repo)
                need_value "$@"
                REPO="$2"
                shift 2
                ;;
            --dry-run)
                DRY_RUN=1
                shift
                ;;
            *)
                die "unknown option: $1 (see --help)"
                ;;
        esac
    done
}

# The release build for this machine, from `uname` (UNAME_S and UNAME_M override it, for tests).
detect_target() {
    os="${UNAME_S:-$(uname -s)}"
    cpu="${UNAME_M:-$(uname -m)}"
    case "$cpu" in
        x86_64 | amd64) cpu="x86_64" ;;
        aarch64 | arm64) cpu="aarch64" ;;
        *) die "no release build for CPU $cpu; build from a checkout with --from-source" ;;
    esac
    case "$os" in
        Linux) echo "$cpu-unknown-linux-musl" ;;
        Darwin) echo "$cpu-apple-darwin" ;;
        *) die "no release build for $os; build from a checkout with --from-source" ;;
    esac
}

check_target() {
    case "$1" in
        x86_64-unknown-linux-musl | aarch64-unknown-linux-musl | x86_64-apple-darwin | aarch64-apple-darwin) ;;
        *) die "no release build for target $1 (see --help)" ;;
    esac
}

# Downloads $1 to $2 with curl or wget.
download() {
    if command -v curl >/dev/null 2>&1; then
        run curl --proto '=https' --tlsv1.2 -fsSL -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        run wget -q -O "$2" "$1"
    else
        die "neither curl nor wget is installed"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        die "neither sha256sum nor shasum is installed: cannot verify the download"
    fi
}

# Checks archive $1 against the SHA256SUMS file $2 (lines "HASH  NAME", NAME maybe "*NAME").
verify() {
    name=$(basename "$1")
    if [ "$DRY_RUN" = 1 ]; then
        say "would verify $name against $(basename "$2")"
        return
    fi
    expected=$(awk -v name="$name" '$2 == name || $2 == "*" name { print $1; exit }' "$2")
    if [ -z "$expected" ]; then
        die "$name is not listed in $2"
    fi
    actual=$(sha256_of "$1")
    if [ "$actual" != "$expected" ]; then
        die "checksum mismatch for $name: expected $expected, got $actual; not installing"
    fi
    say "$name: SHA-256 verified"
}

# Unpacks archive $1 into the temporary directory and prints the binary's path.
unpack() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ tar -xzf %s -C %s\n' "$1" "$TMP" >&2
        echo "$TMP/flowstate"
        return
    fi
    tar -xzf "$1" -C "$TMP"
    binary=$(find "$TMP" -type f -name flowstate | head -n 1)
    if [ -z "$binary" ]; then
        die "$(basename "$1") holds no flowstate binary"
    fi
    echo "$binary"
}

install_binary() {
    if [ "$DRY_RUN" = 0 ]; then
        if ! mkdir -p "$PREFIX/bin" 2>/dev/null || [ ! -w "$PREFIX/bin" ]; then
            die "cannot write to $PREFIX/bin: run it with sudo, or choose another --prefix (e.g. ~/.local)"
        fi
    else
        run mkdir -p "$PREFIX/bin"
    fi
    run cp "$1" "$PREFIX/bin/flowstate.new"
    run chmod 0755 "$PREFIX/bin/flowstate.new"
    # A rename: a running daemon keeps its old binary, the next start gets the new one.
    run mv -f "$PREFIX/bin/flowstate.new" "$PREFIX/bin/flowstate"
    if [ "$DRY_RUN" = 1 ]; then
        say "would install $PREFIX/bin/flowstate"
    else
        say "installed $("$PREFIX/bin/flowstate" --version) to $PREFIX/bin/flowstate"
    fi
}

from_source() {
    checkout=$(cd "$(dirname "$0")" && pwd)
    if ! grep -q '^name = "flowstate"' "$checkout/Cargo.toml" 2>/dev/null; then
        die "--from-source needs this script inside a flowstate checkout ($checkout is not one)"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        die "cargo is not installed: get a current stable Rust from https://rustup.rs"
    fi
    say "building $checkout with cargo (a few minutes)"
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ cd %s && cargo build --release --locked\n' "$checkout"
    else
        (cd "$checkout" && cargo build --release --locked)
    fi
    target_dir="${CARGO_TARGET_DIR:-$checkout/target}"
    install_binary "$target_dir/release/flowstate"
}

from_release() {
    if [ -z "$TARGET" ]; then
        TARGET=$(detect_target)
    fi
    check_target "$TARGET"
    case "$REPO" in
        "") die "name the GitHub repository to download from: --repo OWNER/NAME or FLOWSTATE_REPO=OWNER/NAME (the install.sh attached to a release knows it), or build this checkout with --from-source" ;;
        */*) ;;
        *) die "--repo takes OWNER/NAME, like the part after github.com/ (got: $REPO)" ;;
    esac
    if [ "$VERSION" = "latest" ]; then
        base="https://github.com/$REPO/releases/latest/download"
    else
        base="https://github.com/$REPO/releases/download/v$VERSION"
    fi
    name="flowstate-$TARGET.tar.gz"
    say "downloading $base/$name"
    download "$base/$name" "$TMP/$name"
    download "$base/SHA256SUMS" "$TMP/SHA256SUMS"
    verify "$TMP/$name" "$TMP/SHA256SUMS"
    binary=$(unpack "$TMP/$name")
    install_binary "$binary"
}

from_archive() {
    if [ ! -f "$ARCHIVE" ]; then
        die "no such archive: $ARCHIVE"
    fi
    if [ -z "$SUMS" ]; then
        SUMS="$(dirname "$ARCHIVE")/SHA256SUMS"
    fi
    if [ ! -f "$SUMS" ]; then
        die "no checksum file $SUMS (give the release's SHA256SUMS with --sums)"
    fi
    verify "$ARCHIVE" "$SUMS"
    binary=$(unpack "$ARCHIVE")
    install_binary "$binary"
}

main() {
    parse_args "$@"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/flowstate-install.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    case "$MODE" in
        source) from_source ;;
        archive) from_archive ;;
        *) from_release ;;
    esac
    case ":$PATH:" in
        *":$PREFIX/bin:"*) ;;
        *) say "note: $PREFIX/bin is not on PATH" ;;
    esac
}

main "$@"
