#!/usr/bin/env node
// A solc command-line stand-in over the solc JS API (the real compiler as WebAssembly).
// Why: no native solc can be downloaded here, and the `solcjs` CLI truncates piped output at
// 64 KiB and prints a banner before the JSON. This speaks the subset py-solc-x and slither use:
//   --version                 -> "Version: X" like the native binary
//   --standard-json [file]    -> standard JSON in (stdin or file), standard JSON out on stdout
// Other flags (--allow-paths, --base-path, --include-path) are accepted; imports not given as
// source content are read from disk relative to the base path, include paths or the cwd.
'use strict';
const fs = require('fs');
const path = require('path');

function loadSolc() {
  const candidates = [
    path.join(__dirname, '..', 'node_modules', 'solc'),
    'solc',
  ];
  for (const c of candidates) {
    try { return require(c); } catch (e) { /* try the next */ }
  }
  process.stderr.write('solc-wrapper: npm package "solc" not found; run `npm ci` in the project root\n');
  process.exit(2);
}

function writeAll(fd, text) {
  // fs.writeSync on a pipe may write partially; loop until everything is out.
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
  }
}

function readStdin() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      if (e.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

const args = process.argv.slice(2);
const solc = loadSolc();

if (args.includes('--version') || args.includes('-v')) {
  writeAll(1, 'solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exit(0);
}

const searchRoots = [process.cwd()];
let inputFile = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--base-path' || a === '--include-path' || a === '--allow-paths') {
    const v = args[++i] || '';
    if (a !== '--allow-paths') searchRoots.unshift(path.resolve(v));
  } else if (a.startsWith('--base-path=') || a.startsWith('--include-path=')) {
    searchRoots.unshift(path.resolve(a.split('=')[1]));
  } else if (a === '--standard-json') {
    // the input file, if any, is a following positional argument
  } else if (!a.startsWith('-')) {
    inputFile = a;
  }
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc-wrapper: only --version and --standard-json are supported\n');
  process.exit(2);
}

function findImports(importPath) {
  for (const root of searchRoots) {
    const p = path.resolve(root, importPath);
    if (fs.existsSync(p)) return { contents: fs.readFileSync(p, 'utf8') };
  }
  const nm = path.join(__dirname, '..', 'node_modules', importPath);
  if (fs.existsSync(nm)) return { contents: fs.readFileSync(nm, 'utf8') };
  return { error: 'File not found: ' + importPath };
}

const input = inputFile ? fs.readFileSync(inputFile, 'utf8') : readStdin();
const output = solc.compile(input, { import: findImports });
writeAll(1, output);
