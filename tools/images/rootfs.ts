// Builds the root filesystems of the project's base images from Debian packages on this machine.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';

export interface ImageRecipe {
  /** Repository under library/ in the registry. */
  name: string;
  /** Docker image config fields (`config` in the image config JSON). */
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string };
  /** What made the layer, as `history[].created_by`. */
  createdBy: string;
  /** Media types to push with: Docker schema2 (as Docker Hub serves) or OCI. */
  format: 'v2s2' | 'oci';
  build(dir: string): void;
}

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function writeEtc(dir: string): void {
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  writeFileSync(path.join(dir, 'etc/passwd'), [
    'root:x:0:0:root:/root:/bin/sh',
    'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
    'bin:x:2:2:bin:/bin:/bin/false',
    'sys:x:3:3:sys:/dev:/bin/false',
    'sync:x:4:100:sync:/bin:/bin/sync',
    'mail:x:8:8:mail:/var/spool/mail:/bin/false',
    'www-data:x:33:33:www-data:/var/www:/bin/false',
    'operator:x:37:37:Operator:/var:/bin/false',
    'nobody:x:65534:65534:nobody:/home:/bin/false',
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'etc/group'), [
    'root:x:0:', 'daemon:x:1:', 'bin:x:2:', 'sys:x:3:', 'adm:x:4:', 'tty:x:5:', 'disk:x:6:', 'wheel:x:10:root',
    'mail:x:12:', 'www-data:x:33:', 'operator:x:37:', 'users:x:100:', 'nogroup:x:65534:', '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'etc/shadow'), 'root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n', { mode: 0o640 });
}

/** Static busybox with every applet as a hard link in /bin, like the busybox image on Docker Hub. */
export const busybox: ImageRecipe = {
  name: 'busybox',
  config: { Env: [PATH_ENV], Cmd: ['sh'] },
  createdBy: 'berth tools/images: busybox-static (Debian) with applet links and /etc/passwd, /etc/group',
  format: 'v2s2',
  build(dir) {
    for (const d of ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'tmp', 'usr/sbin', 'var/spool/mail', 'var/www']) {
      mkdirSync(path.join(dir, d), { recursive: true });
    }
    chmodSync(path.join(dir, 'tmp'), 0o1777);
    chmodSync(path.join(dir, 'root'), 0o700);
    const bb = path.join(dir, 'bin/busybox');
    copyFileSync('/bin/busybox', bb);
    chmodSync(bb, 0o755);
    const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const applet of applets) {
      if (applet === 'busybox') continue;
      linkSync(bb, path.join(dir, 'bin', applet));
    }
    writeEtc(dir);
  },
};

/** One static C program, one layer: the hello-world image. */
export const helloWorld: ImageRecipe = {
  name: 'hello-world',
  config: { Env: [PATH_ENV], Cmd: ['/hello'] },
  createdBy: 'berth tools/images: COPY hello / (static C program built with gcc)',
  format: 'v2s2',
  build(dir) {
    mkdirSync(dir, { recursive: true });
    execFileSync('gcc', ['-static', '-Os', '-s', '-o', path.join(dir, 'hello'), path.join(import.meta.dirname, 'hello.c')]);
  },
};

/** debootstrap minbase bookworm from the machine's Debian mirror: a real distribution for size and real-world tests. */
export const debian: ImageRecipe = {
  name: 'debian',
  config: { Env: [PATH_ENV], Cmd: ['bash'] },
  createdBy: 'berth tools/images: debootstrap --variant=minbase bookworm',
  format: 'oci',
  build(dir) {
    const mirror = process.env.BERTH_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror], { stdio: ['ignore', 'ignore', 'inherit'] });
    // What a container image does not carry: package caches, apt lists, device nodes, logs of the bootstrap.
    for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists', 'dev', 'var/log', 'run', 'tmp']) {
      const p = path.join(dir, sub);
      if (!existsSync(p)) continue;
      for (const entry of readdirSync(p)) {
        if (entry === 'partial' || entry === 'lock') continue;
        rmSync(path.join(p, entry), { recursive: true, force: true });
      }
    }
    rmSync(path.join(dir, 'debootstrap'), { recursive: true, force: true });
  },
};

export const recipes: ImageRecipe[] = [busybox, helloWorld, debian];
