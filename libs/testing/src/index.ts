export { uniqueSuffix, uniqueName, testCgroupParent, testSubnet, tempDir } from './names.ts';
export { waitFor, run, stopProcess, type RunResult } from './process.ts';
export { SHARED_REGISTRY, freePort, startRegistry, type PrivateRegistry } from './registry.ts';
export { startDockerd, type PrivateDockerd } from './dockerd.ts';
export { IMAGES_ROOT, imageLayout, imageLayers, unpackRootfs, type BaseImage } from './images.ts';
export { removeCgroupTree } from './cgroups.ts';
