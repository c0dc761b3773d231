import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { duplicateSocketIo, duplicateSocketIoMessage } from '../../lib/adapters/socket-io-copies.js';

/** A package folder with a package.json and an entry file. */
function writePackage(dir: string, name: string, version: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), 'module.exports = {};\n');
}

describe('duplicateSocketIo (the start-up check for two socket.io copies)', () => {
  let root: string;
  let libraryFile: URL;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'rts-sio-copies-'));
    const modules = join(root, 'node_modules');
    writePackage(join(modules, '@nestjs/platform-socket.io'), '@nestjs/platform-socket.io', '12.1.1');
    writePackage(join(modules, 'nestjs-realtime-security'), 'nestjs-realtime-security', '0.1.0');
    mkdirSync(join(modules, 'nestjs-realtime-security/dist/adapters'), { recursive: true });
    libraryFile = pathToFileURL(join(modules, 'nestjs-realtime-security/dist/adapters/socket-io-copies.js'));
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('finds none when the library and @nestjs/platform-socket.io load the same (hoisted) copy', () => {
    writePackage(join(root, 'node_modules/socket.io'), 'socket.io', '4.8.3');
    expect(duplicateSocketIo(libraryFile)).toBeUndefined();
  });

  it('names both copies, versions and folders, when @nestjs/platform-socket.io has its own nested copy', () => {
    writePackage(join(root, 'node_modules/socket.io'), 'socket.io', '4.8.4');
    writePackage(join(root, 'node_modules/@nestjs/platform-socket.io/node_modules/socket.io'), 'socket.io', '4.8.3');
    const copies = duplicateSocketIo(libraryFile);
    expect(copies).toEqual({
      library: { version: '4.8.4', path: join(root, 'node_modules/socket.io') },
      nest: { version: '4.8.3', path: join(root, 'node_modules/@nestjs/platform-socket.io/node_modules/socket.io') },
    });
    const message = duplicateSocketIoMessage(copies!);
    expect(message).toContain('4.8.4');
    expect(message).toContain('set it to exactly 4.8.3');
    expect(message).toContain('npm ls socket.io');
  });

  it('stays quiet when socket.io cannot be resolved (loading the library fails with Node\'s own error then)', () => {
    expect(duplicateSocketIo(libraryFile)).toBeUndefined();
  });

  it('finds none in this repository (one socket.io, shared with @nestjs/platform-socket.io)', () => {
    expect(duplicateSocketIo()).toBeUndefined();
  });
});
