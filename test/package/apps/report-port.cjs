// Preloaded by the consumer matrix (`node --require`): prints `READY <port>` when the app's HTTP
// server listens, so the quick-start source can stay exactly as the README shows it (PORT=0).
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
let reported = false;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    const address = this.address();
    if (!reported && address && typeof address === 'object') {
      reported = true;
      process.stdout.write(`READY ${address.port}\n`);
    }
  });
  return listen.apply(this, args);
};
