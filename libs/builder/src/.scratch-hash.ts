import { createReadStream, readdirSync } from 'node:fs';
import { BuildContext, dirSum } from './index.ts';
const ctx = await BuildContext.fromTar(createReadStream('/tmp/bx/cap-1.tar'), '/tmp/bx/ctxx');
ctx.readDockerfile('Dockerfile');
console.log(readdirSync('/tmp/bx/ctxx', { recursive: true }));
for (const r of ['.', '.dockerignore', 'Dockerfile', 'app.txt', 'build', 'build/keep.txt', 'docs', 'docs/README.md', 'docs/img.png', 'sub', 'sub/code.txt']) console.log(r, ctx.hash(r));
console.log(dirSum(ctx, '.'));
ctx.remove();
