import { LocalContentStore } from '@berth/layer-store';
import { RegistryClient } from './src/index.ts';
import { mkdtempSync } from 'node:fs';
const cs = await LocalContentStore.open(mkdtempSync('/tmp/dscratch/cs-'));
const client = new RegistryClient();
try {
  await client.pull('127.0.0.1:5000/library/hello-world', { contentStore: cs, unpack: { apply: async () => { throw new Error('disk on fire'); } } });
} catch (e) { console.log('caught', (e as Error).name, (e as Error).message); }
client.close();
