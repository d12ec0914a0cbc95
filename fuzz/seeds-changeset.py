#!/usr/bin/env python3
# Writes the seed corpus of the `changeset` target (fuzz/corpus/changeset/): one input per
# operation of Sources/FuzzChangeSet/Program.swift and per shape the reader treats apart (whiteouts,
# opaque directories, redirects, symlinks out, hard links, special files, set-id bits, odd names,
# deep trees, sparse files). Program.swift documents the encoding; the numbers below follow it.
import os

GATE, SNAPSHOT = 2, 1
# Indices into Program.dictionary and Program.targets.
A_TXT, EXE, DIR, INNER, SUB, DEEP, LINK, OUTLINK, EMPTY, GIT = range(10)
NEW, HOOKS, PRECOMMIT, WH_A, WH_OPQ = 12, 13, 14, 15, 16
DOTS, DENIED, BIDI, NEWLINE, ESCAPE, BACKSLASH_FF = 18, 24, 26, 27, 28, 29
BYTE_FF, LONE_C3 = 36, 37
T_CANARY, T_SECRET_DIR, T_UP_CANARY, T_UP_SECRET, T_UP2_CANARY, T_A, T_DIR = range(7)
T_SELF = 15


def raw(name: bytes) -> list:
    return [0xC0 | (len(name) - 1)] + list(name)


def content(data: bytes) -> list:
    return [len(data)] + list(data)


def mkdir(d, n): return [0, d, n]
def file(d, n, data=b"x"): return [1, d, n] + content(data)
def symlink(d, n, t): return [2, d, n, t]
def link(e, d, n): return [3, e, d, n]
def fifo(d, n): return [4, d, n]
def whiteout(d, n): return [5, d, n]
def socket(d, n): return [6, d, n]
def device(d, n, kind, major, minor): return [7, d, n, kind, major, minor]
# xattr names: 0 trusted.overlay.opaque 1 user.overlay.opaque 2/3 …whiteout 4 trusted.overlay.origin
# 5 user.cordon.note 6/7 …redirect 8/9 …metacopy; value 4 is "y". ENTRY 0 of xattr and opaque is the
# root; 1 the first file or directory made.
def xattr(e, which, value=4): return [8, e, which, value]
def chmod(e, mode): return [9, e, mode & 0xFF, mode >> 8]
def append(e, data): return [10, e] + content(data)
def sparse(e, shift): return [11, e, shift]
def opaque(e): return [12, e]
def xwhiteout(d, n): return [13, d, n]


seeds = {
    "empty": [GATE],
    "new-file": [GATE] + file(0, NEW, b"hello"),
    "modified-file": [GATE] + file(0, A_TXT, b"bye"),
    "same-file": [GATE] + file(0, A_TXT, b"hello\n"),
    "mode-changed": [GATE] + file(0, A_TXT, b"hello\n") + chmod(0, 0o755),
    "nested-dirs": [GATE] + mkdir(0, HOOKS) + mkdir(1, SUB) + file(2, NEW, b"in"),
    "whiteout-file": [GATE] + whiteout(0, A_TXT),
    "whiteout-dir": [GATE] + whiteout(0, DIR),
    "xattr-whiteout": [GATE] + xwhiteout(0, EXE),
    "whiteout-xattr-nonempty": [GATE] + file(0, NEW) + xattr(1, 2),
    "opaque-dir": [GATE] + mkdir(0, DIR) + opaque(1),
    "opaque-dir-with-file": [GATE] + mkdir(0, DIR) + opaque(1) + file(1, INNER, b"new"),
    "user-opaque": [GATE] + mkdir(0, DIR) + xattr(1, 1),
    "opaque-not-y": [GATE] + mkdir(0, DIR) + xattr(1, 0, 1),
    "redirect-dir": [GATE] + mkdir(0, DIR) + xattr(1, 6),
    "metacopy-file": [GATE] + file(0, NEW) + xattr(1, 8),
    "symlink-canary": [GATE] + symlink(0, NEW, T_CANARY),
    "symlink-relative-out": [GATE] + symlink(0, NEW, T_UP_CANARY) + symlink(0, HOOKS, T_UP2_CANARY),
    "symlink-over-lower-dir": [GATE] + symlink(0, DIR, T_A),
    "symlink-over-outlink": [GATE] + symlink(0, OUTLINK, T_UP_SECRET),
    "dir-over-outlink": [GATE] + mkdir(0, OUTLINK) + file(1, INNER, b"xy") + opaque(1),
    "symlink-loop": [GATE, 2, 0] + raw(b"self") + [T_SELF],
    "symlink-non-utf8-target": [GATE, 2, 0, NEW, 0xC1, 0xFF, 0xFE],
    "hard-link": [GATE] + file(0, NEW, b"hi") + link(0, 0, A_TXT),
    "hard-link-whiteout": [GATE] + whiteout(0, NEW) + link(0, 0, HOOKS),
    "fifo": [GATE] + fifo(0, NEW),
    "socket": [GATE] + socket(0, NEW),
    "char-device": [GATE] + device(0, NEW, 0, 1, 3),
    "block-device": [GATE] + device(0, HOOKS, 1, 8, 0),
    "setuid-file": [GATE] + file(0, NEW, b"#!") + chmod(0, 0o4755),
    "setgid-sticky-dir": [GATE] + mkdir(0, NEW) + chmod(0, 0o7777) + mkdir(1, SUB),
    "non-utf8-name": [GATE] + file(0, BYTE_FF),
    "non-utf8-dir": [GATE] + mkdir(0, BYTE_FF) + file(1, A_TXT),
    "non-utf8-raw-name": [GATE] + [1, 0] + raw(b"\xff\xfeA") + content(b"x"),
    "non-utf8-whiteout": [GATE] + whiteout(0, LONE_C3),
    "newline-name": [GATE] + file(0, NEWLINE),
    "escape-name": [GATE] + file(0, ESCAPE),
    "bidi-name": [GATE] + file(0, BIDI),
    "dots-name": [GATE] + file(0, DOTS),
    "wh-names": [GATE] + file(0, WH_A, b"") + file(0, WH_OPQ, b""),
    "long-name": [GATE, 1, 0, 0xFF, 0x61] + content(b"x"),
    "deep-tree": [GATE] + sum((mkdir(i, NEW) for i in range(32)), []) + file(32, A_TXT),
    "deep-long-names": [GATE | SNAPSHOT] + sum(([0, i, 0xFF, 0x61 + i] for i in range(20)), []) + file(20, A_TXT),
    "sparse-huge": [GATE] + file(0, NEW, b"") + sparse(0, 40),
    "large-content": [GATE, 1, 0, NEW, 0xFF, 0xFF, 0x41],
    "append": [GATE] + file(0, NEW, b"a") + append(0, b"bcd"),
    "file-over-lower-dir": [GATE] + file(0, DIR),
    "dir-over-lower-file": [GATE] + mkdir(0, A_TXT) + file(1, NEW),
    "git-hook": [GATE] + mkdir(0, GIT) + mkdir(1, HOOKS) + file(2, PRECOMMIT, b"#!") + chmod(0, 0o755),
    "denied-path": [GATE] + mkdir(0, DENIED) + file(1, NEW),
    "opaque-empty": [GATE] + mkdir(0, EMPTY) + opaque(1) + mkdir(0, DIR) + mkdir(2, SUB) + opaque(2),
    "snapshot": [GATE | SNAPSHOT] + file(0, NEW, b"hello") + file(0, A_TXT, b"bye") + mkdir(0, HOOKS) + file(1, NEW),
    "snapshot-sparse": [GATE | SNAPSHOT] + file(0, NEW, b"") + sparse(0, 20),
    "root-opaque": [GATE] + opaque(0) + file(0, A_TXT, b"kept") + mkdir(0, DIR),
    "reader-only": [0] + file(0, NEW, b"x") + whiteout(0, A_TXT) + symlink(0, HOOKS, T_CANARY),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "changeset")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(data))
print(f"{len(seeds)} seeds in {out}")
