import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Controller, Get, Header, Res } from '@nestjs/common';

/**
 * The demo web page at `GET /`: plain HTML, one ES module and one stylesheet from `public/`
 * (copied beside the compiled file by `npm run build:sample`). Only these three files are served:
 * no directory listing, no path from the request ever reaches the file system. The Socket.IO
 * browser client is served by Socket.IO itself at `/socket.io/socket.io.esm.min.js`.
 */
@Controller()
export class WebController {
  private readonly files = {
    html: load('index.html'),
    script: load('app.js'),
    styles: load('styles.css'),
  };

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(@Res({ passthrough: true }) res: ServerResponse): string {
    // The page runs only its own script and talks only to its own origin (ws: included).
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    return this.send(res, this.files.html);
  }

  @Get('app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  script(@Res({ passthrough: true }) res: ServerResponse): string {
    return this.send(res, this.files.script);
  }

  @Get('styles.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  styles(@Res({ passthrough: true }) res: ServerResponse): string {
    return this.send(res, this.files.styles);
  }

  private send(res: ServerResponse, body: string): string {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    return body;
  }
}

function load(name: string): string {
  return readFileSync(new URL(`./public/${name}`, import.meta.url), 'utf8');
}
