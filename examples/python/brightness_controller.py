#!/usr/bin/python3
"""The lab's PC side: sets the LED brightness over MQTT with paho-mqtt.

    brightness_controller.py 512        # PWM duty 0-1023, as the ESP32 uses
    brightness_controller.py 75%        # or a percentage
    brightness_controller.py            # then type values, one per line

Each value is published (QoS 1, retained, so a dimmer that starts later
gets the current brightness) to lab/led/brightness.
"""
import argparse
import sys

import paho.mqtt.client as mqtt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("values", nargs="*", help="brightness values (0-1023 or NN%%)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--topic", default="lab/led/brightness")
    args = ap.parse_args()

    client = mqtt.Client(client_id="brightness-controller")
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    values = args.values or (line.strip() for line in sys.stdin)
    for value in values:
        if not value:
            continue
        info = client.publish(args.topic, value, qos=1, retain=True)
        info.wait_for_publish()
        print("sent %s to %s" % (value, args.topic))
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
