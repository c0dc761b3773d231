import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { PresenceService, TenantRooms, WsAuthorize, type RoomMemberMeta, type RoomPresenceChange } from '../../lib/index.js';
import { RoomPresenceTracker } from '../../lib/presence/room-presence.tracker.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connected } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

@WebSocketGateway({ namespace: '/rooms' })
class RoomsGateway {
  constructor(private readonly rooms: TenantRooms) {}

  @WsAuthorize('doc:read', { resource: 'docId' })
  @SubscribeMessage('open')
  async open(@ConnectedSocket() socket: Socket, @MessageBody() body: { docId: string }) {
    await this.rooms.join(socket, 'doc', body.docId);
    return { ok: true };
  }
}

/** Same app, a second namespace over the same physical connection (`/` multiplexed). */
@WebSocketGateway({ namespace: '/side' })
class SideGateway {
  constructor(private readonly rooms: TenantRooms) {}

  @WsAuthorize('doc:read', { resource: 'docId' })
  @SubscribeMessage('open')
  async open(@ConnectedSocket() socket: Socket, @MessageBody() body: { docId: string }) {
    await this.rooms.join(socket, 'doc', body.docId);
    return { ok: true };
  }

  @WsAuthorize('doc:read', { resource: 'docId' })
  @SubscribeMessage('close')
  async close(@ConnectedSocket() socket: Socket, @MessageBody() body: { docId: string }) {
    return { ok: await this.rooms.leave(socket, 'doc', body.docId) };
  }
}

/** Room presence in the library (not the sample): server-side metadata, the observable, namespaces sharing a connection. */
describe('room presence: metadata, roomChanges$, namespaces over one connection', () => {
  let t: TestApp;
  const logger = new CapturingLogger();
  const tok = (sub: string, perms = ['doc:read'], tenant = 'acme') => signToken({ sub, tenant, perms });

  beforeAll(async () => {
    t = await startApp({
      gateways: [RoomsGateway, SideGateway],
      logger,
      security: {
        presence: {
          rooms: {
            enabled: true,
            // Server-side fields from the live principal; a bad shape for one user, a throw for another.
            metadata: (principal, room): RoomMemberMeta => {
              if (principal.userId === 'thrower') throw new Error('metadata backend down');
              if (principal.userId === 'odd') return { 'bad name': 1 };
              return { role: principal.permissions.includes('doc:write') ? 'editor' : 'viewer', doc: room.id };
            },
          },
        },
      },
    });
  });
  afterEach(async () => {
    closeAllClients();
    await waitFor('out of every room', () => t.app.get(RoomPresenceTracker).stats.memberships === 0, 10_000);
  });
  afterAll(async () => { await t.close(); });

  it('members carry the server-side fields; a client cannot send its own', async () => {
    const presence = t.app.get(PresenceService);
    const editor = await connected(t.url, '/rooms', { auth: { token: tok('ed', ['doc:read', 'doc:write']) } });
    const viewer = await connected(t.url, '/rooms', { auth: { token: tok('vi') } });
    await editor.emitWithAck('open', { docId: 'spec', meta: { role: 'owner' } });
    await viewer.emitWithAck('open', { docId: 'spec', role: 'owner' });
    const page = await presence.listInRoom('acme', 'doc:spec');
    expect(page.members).toEqual([
      { userId: 'ed', connections: 1, joinedAt: expect.any(Number), meta: { role: 'editor', doc: 'spec' } },
      { userId: 'vi', connections: 1, joinedAt: expect.any(Number), meta: { role: 'viewer', doc: 'spec' } },
    ]);
  });

  it('metadata out of shape or throwing: the member is kept without fields, and it is logged', async () => {
    const presence = t.app.get(PresenceService);
    await (await connected(t.url, '/rooms', { auth: { token: tok('thrower') } })).emitWithAck('open', { docId: 'spec' });
    await (await connected(t.url, '/rooms', { auth: { token: tok('odd') } })).emitWithAck('open', { docId: 'spec' });
    expect(await presence.roomMember('acme', 'thrower', 'doc:spec')).toMatchObject({ connections: 1, meta: null });
    expect(await presence.roomMember('acme', 'odd', 'doc:spec')).toMatchObject({ connections: 1, meta: null });
    expect(logger.lines.join('\n')).toContain('presence.rooms.metadata');
  });

  it('roomChanges$ reports joins and leaves; two namespaces of one connection count once', async () => {
    const presence = t.app.get(PresenceService);
    const changes: RoomPresenceChange[] = [];
    const subscription = presence.roomChanges$.subscribe((change) => changes.push(change));
    try {
      const main = await connected(t.url, '/rooms', { auth: { token: tok('al') } });
      // Same Manager: /side rides the same Engine.IO connection (one lease).
      const side = main.io.socket('/side', { auth: { token: tok('al') } });
      await new Promise<void>((resolve) => side.once('connect', () => resolve()));
      await main.emitWithAck('open', { docId: 'd1' });
      await side.emitWithAck('open', { docId: 'd1' });
      expect(await presence.roomMember('acme', 'al', 'doc:d1')).toMatchObject({ connections: 1 });
      expect((await side.emitWithAck('close', { docId: 'd1' })).ok).toBe(true);
      expect(await presence.isInRoom('acme', 'al', 'doc:d1')).toBe(true);
      main.disconnect();
      side.disconnect();
      await waitFor('al left', async () => !(await presence.isInRoom('acme', 'al', 'doc:d1')), 10_000);
      expect(changes.filter((c) => c.userId === 'al').map((c) => `${c.type}:${c.tenantId}:${c.room}`)).toEqual(['join:acme:doc:d1', 'leave:acme:doc:d1']);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('room queries refuse bad arguments with InvalidPresenceQueryError, naming the argument', async () => {
    const presence = t.app.get(PresenceService);
    await expect(presence.listInRoom('acme', 'no-colon')).rejects.toMatchObject({ name: 'InvalidPresenceQueryError', argument: 'room' });
    await expect(presence.listInRoom('acme', 'doc:x', { limit: 0 })).rejects.toMatchObject({ argument: 'limit' });
    await expect(presence.listInRoom('acme', 'doc:x', { cursor: 'forged' })).rejects.toMatchObject({ argument: 'cursor' });
    await expect(presence.countInRoom('', 'doc:x')).rejects.toMatchObject({ argument: 'tenantId' });
    await expect(presence.roomsOf('acme', 'u', 5000)).rejects.toMatchObject({ argument: 'limit' });
  });
});
