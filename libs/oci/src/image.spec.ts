import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  compressionOfMediaType, detectCompression, detectManifestMediaType, digestOf, layoutBlobPath, MediaTypeDockerManifest,
  MediaTypeDockerManifestList, MediaTypeDockerSchema1Manifest, MediaTypeImageIndex, MediaTypeImageManifest,
  parseManifest, parseRegistryError, RegistryError, validateDescriptor, validateImageConfig, validateIndex,
  validateLayoutHeader, validateManifest, ValidationError, verifyDigest, type Digest,
} from './index.ts';

const IMAGES = process.env.BERTH_IMAGES_ROOT ?? '/var/lib/berth-images';
const D = `sha256:${'a'.repeat(64)}` as Digest;

describe('image spec types', () => {
  it('reads and verifies the base image layouts (index → manifest → config)', () => {
    for (const name of ['busybox', 'hello-world', 'debian']) {
      const dir = path.join(IMAGES, name);
      validateLayoutHeader(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8')));
      const index = parseManifest(readFileSync(path.join(dir, 'index.json')));
      assert.equal(index.kind, 'index');
      if (index.kind !== 'index') continue;
      const desc = index.index.manifests[0]!;
      const bytes = readFileSync(path.join(dir, layoutBlobPath(desc.digest)));
      verifyDigest(bytes, desc.digest, desc.size);
      const m = parseManifest(bytes, desc.mediaType);
      assert.equal(m.kind, 'manifest');
      if (m.kind !== 'manifest') continue;
      const cfgBytes = readFileSync(path.join(dir, layoutBlobPath(m.manifest.config.digest)));
      verifyDigest(cfgBytes, m.manifest.config.digest);
      const cfg = validateImageConfig(JSON.parse(cfgBytes.toString()));
      assert.equal(cfg.os, 'linux');
      assert.equal(cfg.rootfs.diff_ids.length, m.manifest.layers.length);
      assert.equal(compressionOfMediaType(m.manifest.layers[0]!.mediaType), 'gzip');
    }
  });

  it('detects manifest media types from content', () => {
    assert.equal(detectManifestMediaType({ schemaVersion: 2, manifests: [] }), MediaTypeImageIndex);
    assert.equal(detectManifestMediaType({ schemaVersion: 2, config: {}, layers: [] }), MediaTypeImageManifest);
    const list = { schemaVersion: 2, mediaType: MediaTypeDockerManifestList, manifests: [] };
    assert.equal(detectManifestMediaType(list), MediaTypeDockerManifestList);
    assert.equal(detectManifestMediaType({ schemaVersion: 1, fsLayers: [] }), MediaTypeDockerSchema1Manifest);
    assert.equal(detectManifestMediaType({ hello: 1 }), undefined);
    const s1 = parseManifest(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', architecture: 'amd64', fsLayers: [{ blobSum: D }], history: [] }));
    assert.equal(s1.kind, 'schema1');
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectCompression(Buffer.from('usr/')), 'none');
  });

  it('validates structure and says which field is wrong', () => {
    const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D, size: 3 };
    validateDescriptor(desc);
    validateDescriptor({ ...desc, data: Buffer.from('abc').toString('base64') });
    assert.throws(() => validateDescriptor({ ...desc, size: -1 }), /invalid descriptor: size: must be a non-negative integer/);
    assert.throws(() => validateDescriptor({ ...desc, data: 'YQ==' }), /length does not match size/);
    const config = { ...desc, mediaType: 'application/vnd.docker.container.image.v1+json' };
    const manifest = { schemaVersion: 2, mediaType: MediaTypeDockerManifest, config, layers: [desc] };
    validateManifest(manifest);
    assert.throws(() => validateManifest({ ...manifest, layers: [desc, { ...desc, digest: 'sha256:xyz' }] }),
      (e: unknown) => e instanceof ValidationError && e.message === 'invalid manifest: layers[1].digest: invalid checksum digest length');
    assert.throws(() => validateManifest({ ...manifest, schemaVersion: 1 }), /schemaVersion: must be 2/);
    assert.throws(() => validateIndex({ schemaVersion: 2, manifests: [{ ...desc, platform: { os: 'linux' } }] }), /manifests\[0\]\.platform\.architecture/);
    assert.throws(() => parseManifest(JSON.stringify(manifest), MediaTypeImageIndex), /does not match/);
    assert.throws(() => parseManifest('{not json'), /invalid manifest/);
    assert.throws(() => validateImageConfig({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: ['x'] } }), /rootfs\.diff_ids\[0\]/);
    assert.throws(() => validateLayoutHeader({ imageLayoutVersion: '2.0.0' }), /unsupported version/);
    assert.equal(layoutBlobPath(digestOf('x')), `blobs/sha256/${digestOf('x').slice(7)}`);
  });

  it('parses distribution errors as Docker prints them', () => {
    const e = parseRegistryError(404, JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'nope' } }] }));
    assert.ok(e instanceof RegistryError);
    assert.equal(e.message, 'manifest unknown: manifest unknown');
    assert.equal(e.code, 'not_found');
    assert.ok(e.has('MANIFEST_UNKNOWN'));
    assert.equal(parseRegistryError(401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}').code, 'unauthorized');
    const html = parseRegistryError(502, '<html>bad gateway</html>');
    assert.equal(html.code, 'unavailable');
    assert.match(html.message, /unexpected status 502: <html>bad gateway/);
  });
});
