import 'reflect-metadata';
import { Module, UsePipes } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { IsString, Length } from 'class-validator';
import {
  RealtimeSecurityModule, SecureIoAdapter, WsAuthorize, WsPrincipal, WsValidationPipe, type Principal,
} from 'nestjs-realtime-security';

class EchoDto {
  @IsString() @Length(1, 100) text!: string;
}

@UsePipes(new WsValidationPipe())
@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {
  @WsAuthorize('chat:write')
  @SubscribeMessage('echo')
  echo(@WsPrincipal() me: Principal, @MessageBody() dto: EchoDto) {
    return { userId: me.userId, tenantId: me.tenantId, text: dto.text };
  }
}

@Module({
  imports: [RealtimeSecurityModule.forRoot({
    jwt: { secret: process.env.JWT_SECRET!, algorithms: ['HS256'] },
  })],
  providers: [ChatGateway],
})
class AppModule {}

const app = await NestFactory.create(AppModule);
app.useWebSocketAdapter(new SecureIoAdapter(app));
await app.listen(process.env.PORT ?? 3000);
