'use strict';
/* global require, module, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS loader for a .node file */
// Loads the berth addon and locates the berth-nsexec helper. Only libs/runtime may require this module.
// Both come from node-gyp's output (`npm run build -w @berth/native`); errors list every path tried.
const fs = require('node:fs');
const path = require('node:path');

const candidates = ['build/Release', 'build/Debug'].map((d) => path.join(__dirname, d));

function find(file) {
  const tried = [];
  for (const dir of candidates) {
    const p = path.join(dir, file);
    tried.push(p);
    if (fs.existsSync(p)) return { path: p, tried };
  }
  return { path: null, tried };
}

const addonFile = find('berth.node');
if (!addonFile.path) {
  throw new Error(`@berth/native: the addon is not built (tried ${addonFile.tried.join(', ')}); run: npm run build -w @berth/native`);
}
const helperFile = find('berth-nsexec');
if (!helperFile.path) {
  throw new Error(`@berth/native: berth-nsexec is not built (tried ${helperFile.tried.join(', ')}); run: npm run build -w @berth/native`);
}

module.exports = require(addonFile.path);
module.exports.helperPath = helperFile.path;
module.exports.protocolHeader = path.join(__dirname, 'src/common/protocol.h');
