#!/bin/sh
# Rebuild plotly-2d.min.js: a slim plotly.js 4.1.1 bundle with only the
# `scatter` and `scattergl` traces (plus everything plotly.js core registers:
# shapes, annotations, legend, modebar, hover, ...). It defines window.Plotly
# exactly like the official dist/plotly.min.js (same UMD wrapper).
#
# Inputs come from the npm registry only, pinned by the lockfile next to this
# script (plotly-2d.package-lock.json):
#   plotly.js 4.1.1 (MIT), esbuild 0.28.2, buffer 6.0.3, events 3.3.0,
#   overrides regl-line2d 3.1.3 and to-px 1.0.1 (the versions the official
#   4.1.1 dist bundles contain; the newest in-range versions differ).
# Options mirror plotly.js's own esbuild-config.js / tasks (iife, global
# Plotly, target es2016, define global=window, regl -> @plotly/regl, strip
# attribute docs as the official dist builds do); the maplibre-gl CSS that
# src/registry.js pulls in only for map subplots is loaded as empty.
#
# Usage: sh pipeline/vendor/build-plotly-2d.sh   (needs node + npm)
# Output: pipeline/vendor/plotly-2d.min.js, byte-identical on every run
# (size and sha256 of the committed file: see README.md next to this script).
set -eu

VENDOR=$(cd "$(dirname "$0")" && pwd)
OUT="$VENDOR/plotly-2d.min.js"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

cat > package.json <<'EOF'
{
  "name": "plotly-2d-build",
  "private": true,
  "version": "0.0.0",
  "dependencies": {
    "buffer": "6.0.3",
    "esbuild": "0.28.2",
    "events": "3.3.0",
    "plotly.js": "4.1.1"
  },
  "overrides": {
    "regl-line2d": "3.1.3",
    "to-px": "1.0.1"
  }
}
EOF
cp "$VENDOR/plotly-2d.package-lock.json" package-lock.json
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# Entry point: core (which already registers scatter) + scattergl.
cat > entry.js <<'EOF'
'use strict';
var Plotly = require('plotly.js/lib/core');
Plotly.register([require('plotly.js/lib/scatter'), require('plotly.js/lib/scattergl')]);
module.exports = Plotly;
EOF

cat > build.js <<'EOF'
const fs = require('fs');
const esbuild = require('esbuild');

// Drop attribute meta-data (docs strings) from the sources, as plotly.js
// does for its dist bundles; it is only used by the schema / docs.
const metaPatterns = [
    "description: '.*'",
    'description: \\[[\\s\\S]*?\\]\\.join\\([\\s\\S]*?\\)',
    'requiredOpts: \\[[\\s\\S]*?\\]',
    'otherOpts: \\[[\\s\\S]*?\\]',
    "role: '.*'",
    "hrName: '.*'",
].map((p) => new RegExp('\\s*' + p + ',?', 'g'));
const stripMeta = {
    name: 'strip-meta',
    setup(build) {
        build.onLoad({ filter: /\.js$/ }, async (args) => {
            let code = await fs.promises.readFile(args.path, 'utf8');
            for (const re of metaPatterns) code = code.replace(re, '');
            return { contents: code, loader: 'js' };
        });
    },
};

// License header and UMD wrapper, same text as the official 4.1.1 bundles.
const head = [
    '/**',
    '* plotly.js (2d: scatter, scattergl - minified) v4.1.1',
    '* Copyright 2012-2026, Plotly, Inc.',
    '* All rights reserved.',
    '* Licensed under the MIT license',
    '*/',
    '(',
    ' function(root, factory) {',
    '  if (typeof module === "object" && module.exports) {',
    '   module.exports = factory();',
    '  } else {',
    '   root.moduleName = factory();',
    '  }',
    '} (typeof self !== "undefined" ? self : this, () => {',
    '',
].join('\n');
const foot = '\nwindow.Plotly = Plotly;\nreturn Plotly;\n}));';

esbuild.build({
    absWorkingDir: __dirname,
    entryPoints: ['entry.js'],
    bundle: true,
    format: 'iife',
    globalName: 'Plotly',
    minify: true,
    target: 'es2016',
    sourcemap: false,
    write: false,
    outfile: 'plotly-2d.min.js',
    alias: { regl: '@plotly/regl' },
    define: { global: 'window', 'define.amd': 'false' },
    loader: { '.css': 'empty' },
    plugins: [stripMeta],
    logLevel: 'warning',
}).then((result) => {
    fs.writeFileSync(process.argv[2], head + result.outputFiles[0].text + foot);
});
EOF

node build.js "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
ls -l "$OUT"
sha256sum "$OUT"
