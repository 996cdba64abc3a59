// MQTT.js over ws:// or wss:// for the WebSocket integration tests.
//   node ws_client.js URL sub TOPIC COUNT [CAFILE]  prints "ready", then each payload's
//                                                    length and first 32 bytes, one a line
//   node ws_client.js URL pub TOPIC SIZE|TEXT [CAFILE]  publishes one message (QoS 1)
// Exits 0 when done, 1 on error or after 15 s.
'use strict';
const mqtt = require('mqtt');

const [url, mode, topic, arg, ca] = process.argv.slice(2);
const opts = {protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10000};
if (ca) {
    opts.ca = require('fs').readFileSync(ca);
    opts.rejectUnauthorized = true;
}
const timer = setTimeout(() => {
    console.error('timeout');
    process.exit(1);
}, 15000);
const client = mqtt.connect(url, opts);
// After end() the session is over (DISCONNECT sent and acknowledged by the
// broker closing); a failed write of the WebSocket close reply is not an error.
let ending = false;
client.on('error', (e) => {
    if (ending)
        return;
    console.error('error: ' + e.message);
    process.exit(1);
});
client.on('connect', () => {
    if (mode === 'sub') {
        let left = parseInt(arg, 10);
        client.on('message', (t, m) => {
            console.log(m.length + ' ' + m.subarray(0, 32).toString('latin1'));
            if (--left === 0) {
                clearTimeout(timer);
                ending = true;
                client.end(false, () => process.exit(0));
            }
        });
        client.subscribe(topic, {qos: 1}, (err) => {
            if (err) {
                console.error('suback: ' + err.message);
                process.exit(1);
            }
            console.log('ready');
        });
    } else {
        const payload = /^[0-9]+$/.test(arg) ? Buffer.alloc(parseInt(arg, 10), 'm') : arg;
        client.publish(topic, payload, {qos: 1}, (err) => {
            if (err) {
                console.error('publish: ' + err.message);
                process.exit(1);
            }
            clearTimeout(timer);
            ending = true;
            client.end(false, () => process.exit(0));
        });
    }
});
