// A visitor's chat through Rocket.Chat's own JavaScript SDK (@rocket.chat/sdk, its LivechatClient over
// DDP), driven by tests/integration/test_realtime_sdk.py: register, open the room, connect (which calls
// livechat:setUpConnection), subscribe to the room, then print each message heard as a JSON line.
// Usage: node realtime_sdk_chat.js http://127.0.0.1:PORT TOKEN
const { Livechat } = require('@rocket.chat/sdk');

const [host, token] = process.argv.slice(2);
const quiet = { debug() {}, info() {}, warn() {}, warning() {}, error(e) { console.error(String(e)); } };

async function main() {
  const client = new Livechat({ host, protocol: 'ddp', logger: quiet });
  await client.grantVisitor({ visitor: { token, name: 'SDK visitor' } });
  const room = await client.room();
  await client.connect({});
  await client.subscribeRoom(room._id);
  await client.onAgentChange(room._id, (agent) => print({ agent }));
  await client.onMessage((message) => print({ message }));
  await client.onTyping((username, isTyping) => print({ typing: [username, isTyping] }));
  print({ ready: room._id });
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

main().catch((err) => {
  console.error('sdk chat failed:', err && (err.stack || err.message || JSON.stringify(err)));
  process.exit(1);
});
