import { startDockerd } from '@berth/testing';
const d = await startDockerd('/tmp/bx/dockerd');
console.log(d.host);
await new Promise(() => {});
