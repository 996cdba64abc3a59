#!/usr/bin/python3
"""The lab's PC side: prints the DHT11 readings the board publishes.

Subscribes to lab/dht11 (JSON {"temperature":..,"humidity":..,"ts":..})
and prints one line per reading; --count N stops after N readings.
"""
import argparse
import json

import paho.mqtt.client as mqtt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--topic", default="lab/dht11")
    ap.add_argument("--count", type=int, default=0, help="stop after N readings")
    args = ap.parse_args()
    seen = {"n": 0}

    def on_connect(client, userdata, flags, rc):
        if rc != 0:
            raise SystemExit("connection refused: %s" % mqtt.connack_string(rc))
        client.subscribe(args.topic, qos=0)

    def on_message(client, userdata, msg):
        try:
            r = json.loads(msg.payload)
            line = "%5.1f C  %5.1f %%" % (float(r["temperature"]), float(r["humidity"]))
        except (ValueError, KeyError, TypeError):
            line = "unreadable reading: %r" % msg.payload[:64]
        print(line, flush=True)
        seen["n"] += 1
        if args.count and seen["n"] >= args.count:
            client.disconnect()

    client = mqtt.Client(client_id="telemetry-subscriber")
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=30)
    client.loop_forever()


if __name__ == "__main__":
    main()
