// The one bundler: every program vfs runs is esbuild's single CommonJS file, so a start loads one
// script. `node scripts/bundle.cjs [TARGET…]` builds named targets (default: the host programs);
// tests and benchmarks call bundleSync() for their own entry points (Worker scripts, stand-ins).
//
// koffi stays external: its native .node binaries are resolved from node_modules at run time.
// Programs lose their whitespace and comments, nothing else (names stay for stack traces): V8 keeps
// a script's source for the process's life, two bytes a character if one character is not ASCII,
// and comments carried "≈" and "—". The shim's source went from 3.4 MB (two-byte) to 1.1 MB, the
// daemon's from 0.9 to 0.3, and a shim start parses ≈ 15 ms less (ARCHITECTURE.md, "The daemon's
// memory").
// Source maps go to <program>.map (a loader's bundle: <program>.js.map, below), not inline: Node
// reads a map only under --enable-source-maps, but it reads and scans an inline one at every start
// (the shim's 4 MB map cost ≈45 ms per start, twice per sandbox; the daemon's ≈30 ms).
// NODE_OPTIONS=--enable-source-maps still maps stack traces.
'use strict';
const { buildSync } = require('esbuild');
const { execFileSync } = require('node:child_process');
const { chmodSync, mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, resolve } = require('node:path');
const { repoRoot } = require('./repo_root.cjs');

const ROOT = repoRoot();

// NODE_EXTRA_CA_CERTS: Node parses that bundle at every start, before any code runs (Debian's 144
// certificates: 35 → 120 ms per start on this project's machines, 1.0 → 1.9 s under TCG). None of
// the host programs makes a TLS connection, so each drops it: the shim in its prologue (for itself
// and all it starts: the daemon, QEMU), the other programs through env -u in their shebang.
const NO_CA_BUNDLE = 'NODE_EXTRA_CA_CERTS';
const NODE_SHEBANG = `#!/usr/bin/env -S -u ${NO_CA_BUNDLE} node`;

/** A host program: runnable, with a linked source map. */
const program = (entry, out) => ({ entry, out, program: true, shebang: NODE_SHEBANG });

// The shim's first two lines run under /bin/sh and are JavaScript too (`':'` is a string there and
// the rest of the line a comment; the directive prologue, "use strict" included, still holds).
// - `delete`: containerd runs `… -bundle DIR delete` after every shim exit and waits for it before
//   it removes the snapshot; a Node start for that costs 0.2–0.45 s on `ctr run --rm`. A shim whose
//   Shutdown released everything leaves DIR/shim-shutdown-clean (shim/src/clean_exit.ts), and then
//   `delete` answers an empty DeleteResponse without starting Node.
// - `start`: containerd reads the answer from start's stdout until that pipe closes, so a server
//   must not hold it. Node runs in its own session with containerd's stdin, stdout and stderr in
//   DIR/shim.stderr, and the answer's pipe on fd 3 (shim/src/bootstrap.ts); the prologue prints
//   what came through fd 3 once Node closed it, or shows shim.stderr and fails when nothing did.
//   So the process that answers can go on serving: one Node start, not two.
// - `start` with a warm pool: first it claims a spare shim, a Node the pool started and loaded
//   before (contracts/src/warm_pool/spare_shim.ts): it renames a live spare's dir (one claimant
//   wins), writes its pid into the dir's `claim` FIFO and waits on `result`. The spare answers
//   containerd on this process's stdout and goes on serving. A refusal, or no result in time
//   (then the mkdir of `taken.<pid>` settles that the spare did not take the start), falls
//   through to starting Node here.
const SPARE_CLAIM = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's parameter expansion
  'for s in "${VFS_RUN_DIR:-/run/vfs}"/spare-shims/*.spare; do [ -p "$s/claim" ] || continue',
  'read q < "$s/pid" && kill -0 "$q" 2>/dev/null || continue',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's parameter expansion
  'c=${s%.spare}.claimed',
  'mv -T "$s" "$c" 2>/dev/null || continue',
  // In the command substitution's process: a builtin's redirection in this one would swap out the
  // stdout that the spare copies (its answer went into the FIFO once). $$ stays this shell's pid.
  'r=$(echo $$ 1<>"$c/claim"; timeout 10 cat "$c/result")',
  // Node only when this mkdir made the dir: else the spare has the start (and maybe its stdin).
  'if [ -z "$r" ] && ! mkdir "$c/taken.$$" 2>/dev/null; then r=$(timeout 10 cat "$c/result"); [ -n "$r" ] || r="failed spare shim $q took this start and gave no answer"; fi',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's parameter expansion
  'case $r in ok) exit 0;; failed*) echo "${r#failed }" >&2; exit 1;; esac',
  'break; done',
];
const SHIM_PROLOGUE = [
  `unset ${NO_CA_BUNDLE}`,
  'p= b=',
  'for a; do [ "$p" = -bundle ] && b=$a; p=$a; done',
  '[ "$p" = delete ] && [ -n "$b" ] && [ -e "$b/shim-shutdown-clean" ] && exit 0',
  '[ "$p" = start ] || exec node "$0" "$@"',
  ...SPARE_CLAIM,
  'e=shim.stderr; [ -n "$b" ] && e=$b/$e',
  'exec 4<&0',
  'o=$(setsid node "$0" "$@" <&4 4<&- 3>&1 >"$e" 2>&1 &)',
  '[ -n "$o" ] && printf %s "$o" && exit 0',
  'cat "$e" >&2',
  'exit 1',
];
const SHIM_SHEBANG = ['#!/bin/sh', `':' //; ${SHIM_PROLOGUE.join('; ')}`].join('\n');

// The daemon's device loop runs on its main thread: V8's semi-spaces grow to 16 MiB under load
// and stay committed; 4 MiB costs no measurable speed (ARCHITECTURE.md, "The daemon's memory").
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=4'];
const DAEMON_SHEBANG = `#!/usr/bin/env -S -u ${NO_CA_BUNDLE} node ${DAEMON_NODE_FLAGS.join(' ')}`;

// The programs started per sandbox carry V8's code cache of their bundle, made at build time: the
// program file is a loader that compiles <program>.js with <program>.js.cache, so a start skips
// parsing 1.1 MB (the shim's `-v`: 103 → 66 ms, bare Node 47; ARCHITECTURE.md, "The warm pool").
// V8 accepts a cache only from its own version and flags, so it is made by the `node` on PATH (the
// one the programs run) with the program's own Node flags. One it rejects (Node upgraded since the
// build, or V8 flags in NODE_OPTIONS) costs that start the parse, and the loader says so on stderr.
// Code compiled this way has no dynamic import(): esbuild turns the bundles' into requires.
// The loader and the cache's maker compile the bundle alike: a CommonJS module's parameters.
const COMPILE_BUNDLE = `compileFunction(readFileSync(file, 'latin1'), ['exports', 'require', 'module', '__filename', '__dirname']`;
const CODE_CACHE_LOADER = `'use strict';
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname } = require('node:path');
const { compileFunction } = require('node:vm');
const file = \`\${__filename}.js\`;
// Node maps the stack traces of what its own loader loads only: under --enable-source-maps, that.
if (process.sourceMapsEnabled) return void require(file);
const main = ${COMPILE_BUNDLE}, {
  filename: file,
  cachedData: readFileSync(\`\${file}.cache\`),
});
if (main.cachedDataRejected)
  process.stderr.write(\`\${file}: V8 rejected its code cache (another Node, or V8 flags in NODE_OPTIONS?): rebuild with make build\\n\`);
main.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
`;

// Run by the program's Node: compiles the bundle as the loader does and writes the cache.
const MAKE_CODE_CACHE = `const { readFileSync, writeFileSync } = require('node:fs');
const { compileFunction } = require('node:vm');
const [file, out] = process.argv.slice(1);
const main = ${COMPILE_BUNDLE}, {
  filename: file,
  produceCachedData: true,
});
writeFileSync(out, main.cachedData);
`;

const TARGETS = {
  daemon: {
    ...program('daemon/src/main.ts', 'build/bin/vfs-virtiofsd'),
    shebang: DAEMON_SHEBANG,
    codeCache: true,
    nodeFlags: DAEMON_NODE_FLAGS,
  },
  shim: { ...program('shim/src/main.ts', 'build/bin/containerd-shim-vfs-v2'), shebang: SHIM_SHEBANG, codeCache: true },
  'vfs-runtime': program('cli/src/main.ts', 'build/bin/vfs-runtime'),
  // The shim frame around the host-process test double; containerd finds it on the e2e PATH.
  'test-shim': {
    ...program('harness/src/test_shim.ts', 'build/test-bin/containerd-shim-vfs-v2'),
    shebang: SHIM_SHEBANG,
  },
  // One file to read over virtio-fs at start, minified (less to read and parse under TCG), no
  // source map (it would double the file). The agent has no native dependency.
  agent: { entry: 'agent/src/main.ts', out: 'build/runtime/agent.js', minify: true },
  'bench-daemon': program('tools/src/bench_daemon/bench_daemon.ts', 'build/bin/bench-daemon'),
  'bench-coldstart': program('tools/src/bench_coldstart/bench_coldstart.ts', 'build/bin/bench-coldstart'),
  // resvg's native .node binaries are resolved from node_modules at run time, as koffi's; esbuild
  // too (it cannot be bundled): the warm pool's harness builds vfs-runtime before starting it.
  'vfs-bench': {
    ...program('tools/src/vfs_bench/main.ts', 'build/bin/vfs-bench'),
    external: ['@resvg/resvg-js', 'esbuild'],
  },
  'bench-pods': program('tools/src/bench_pods/bench_pods.ts', 'build/bin/bench-pods'),
  'bench-hotplug': program('tools/src/bench_hotplug/bench_hotplug.ts', 'build/bin/bench-hotplug'),
  'bench-guest': program('tools/src/bench_guest/bench_guest.ts', 'build/bin/bench-guest'),
  'bench-net': program('tools/src/bench_net/bench_net.ts', 'build/bin/bench-net'),
  'bench-memory': program('tools/src/bench_memory/bench_memory.ts', 'build/bin/bench-memory'),
  demo: program('tools/src/demo.ts', 'build/bin/vfs-demo'),
  'guest-smoke': program('tools/src/guest_smoke.ts', 'build/bin/guest-smoke'),
  fuzz: program('tools/src/fuzz/fuzz.ts', 'build/bin/vfs-fuzz'),
  // Build-time: the runtime's virtio-pmem image from its erofs one (agent/runtime.mk).
  'pmem-image': program('agent/runtime/pmem_image/main.ts', 'build/bin/pmem-image'),
};

const DEFAULT_TARGETS = [
  'daemon',
  'shim',
  'vfs-runtime',
  'test-shim',
  'bench-daemon',
  'bench-coldstart',
  'vfs-bench',
  'bench-pods',
  'bench-hotplug',
  'bench-guest',
  'bench-net',
  'bench-memory',
];

/**
 * Bundles `entry` into `outfile` (paths relative to the repository root, or absolute).
 * options: { program: executable with a shebang and a linked map, shebang: its first lines (default: node
 * from PATH), minify, external: extra packages left out, codeCache: the program is a loader of
 * `<outfile>.js` and its V8 code cache, nodeFlags: the program's Node flags (the cache's) }.
 */
function bundleSync(entry, outfile, options = {}) {
  const out = resolve(ROOT, outfile);
  mkdirSync(dirname(out), { recursive: true });
  if (options.codeCache === true) return bundleWithCodeCache(entry, out, options);
  return esbuild(entry, out, options);
}

/** The program at `out` loads the bundle `<out>.js` with the cache `<out>.js.cache`. */
function bundleWithCodeCache(entry, out, options) {
  const body = esbuild(entry, `${out}.js`, { ...options, program: false, sourcemap: 'linked' });
  // V8 flags in the build's NODE_OPTIONS would be baked into the cache; the programs run without them.
  const { NODE_OPTIONS: _, ...env } = process.env;
  execFileSync('node', [...(options.nodeFlags ?? []), '-e', MAKE_CODE_CACHE, body, `${body}.cache`], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(out, `${options.shebang}\n${CODE_CACHE_LOADER}`, { mode: 0o755 });
  chmodSync(out, 0o755);
  rmSync(`${out}.map`, { force: true }); // the map of the program's former one-file layout
  return out;
}

function esbuild(entry, out, options) {
  buildSync({
    entryPoints: [resolve(ROOT, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi', ...(options.external ?? [])],
    sourcemap: options.sourcemap ?? (options.program ? 'linked' : false),
    minify: options.minify === true,
    minifyWhitespace: options.minify === true || options.program === true || options.codeCache === true,
    legalComments: options.minify ? 'none' : 'eof',
    banner: options.program ? { js: options.shebang ?? '#!/usr/bin/env node' } : undefined,
    logLevel: 'warning',
  });
  if (options.program) chmodSync(out, 0o755);
  return out;
}

/** Builds one named target; returns the absolute path of its output. */
function bundleTarget(name) {
  const target = TARGETS[name];
  if (target === undefined)
    throw new Error(`unknown bundle target '${name}' (targets: ${Object.keys(TARGETS).join(', ')})`);
  return bundleSync(target.entry, target.out, target);
}

module.exports = { TARGETS, DEFAULT_TARGETS, bundleSync, bundleTarget };

if (require.main === module) {
  const names = process.argv.slice(2);
  try {
    for (const name of names.length > 0 ? names : DEFAULT_TARGETS) bundleTarget(name);
  } catch (err) {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
