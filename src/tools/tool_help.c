/* --help texts of midge_pub, midge_sub and midge_rr. */
#include "tool_client.h"

#define CONNECT_HELP                                                                               \
    " -h : host to connect to. Defaults to localhost.\n"                                           \
    " -p : port to connect to. Defaults to 1883, or 8883 with TLS.\n"                              \
    " -L : connect and choose the topic with one URL:\n"                                           \
    "      mqtt(s)://[username[:password]@]host[:port]/topic (IPv6 hosts in [brackets]).\n"        \
    " -u : username.\n"                                                                            \
    " -P : password.\n"                                                                            \
    " -i : client id. Without it, MQTT v5 lets the broker assign one and v3.1.x\n"                 \
    "      generates one.\n"                                                                       \
    " -I : client id prefix; the process id is appended.\n"                                        \
    " -k : keep alive in seconds (5-65535). Defaults to 60.\n"                                     \
    " -c : keep the session (clean session off). Needs -i. In MQTT v5 the session\n"               \
    "      never expires unless -x says otherwise.\n"                                              \
    " -x : session expiry interval in seconds for MQTT v5 (-1 or \xe2\x88\x9e: never).\n"          \
    " -V : protocol version: 5, 311 or 31 (also mqttv5, mqttv311, mqttv31).\n"                     \
    " -D : an MQTT v5 property: -D command identifier value, or\n"                                 \
    "      -D command user-property name value. Implies -V 5. See the man page.\n"                 \
    " -M : QoS 1/2 messages in flight at once. Defaults to 20.\n"                                  \
    " -d : print every packet sent and received.\n"                                                \
    " --quiet : print no runtime errors.\n"                                                        \
    " --nodelay : accepted for compatibility; midge always disables Nagle's algorithm.\n"          \
    " --will-topic : topic of the will, published by the broker if we vanish.\n"                   \
    " --will-payload : payload of the will (empty if not given).\n"                                \
    " --will-qos : QoS of the will.\n"                                                             \
    " --will-retain : retain the will.\n"                                                          \
    " --cafile : file of trusted CA certificates (PEM); enables TLS.\n"                            \
    " --capath : directory of trusted CA certificates; enables TLS.\n"                             \
    " --tls-use-os-certs : trust the system's CA certificates; enables TLS.\n"                     \
    " --cert : client certificate (PEM) for brokers that ask for one.\n"                           \
    " --key : private key of --cert (PEM).\n"                                                      \
    " --insecure : do not check that the broker's certificate names the host.\n"                   \
    " --tls-version : tlsv1.3 or tlsv1.2 (tlsv1.1 is refused). Defaults to 1.2 or newer.\n"        \
    " --ciphers : OpenSSL cipher list for TLS 1.2.\n"                                              \
    " --tls-alpn : ALPN protocol to offer.\n"                                                      \
    " --help : this text.\n"                                                                       \
    " --version : the version.\n"                                                                  \
    "\n"                                                                                           \
    "Default options may be put in $XDG_CONFIG_HOME/<tool> (or ~/.config/<tool>),\n"               \
    "one \"-option value\" per line.\n\n"                                                          \
    "Mosquitto's -A, --unix, --psk, --proxy, --tls-engine and --keyform are\n"                     \
    "recognised and refused with a message.\n"

#define OUTPUT_HELP                                                                                \
    " -v : print the topic before the payload.\n"                                                  \
    " -N : do not print a newline after each message.\n"                                           \
    " -F : output format: %t topic, %p payload, %q QoS, %r retain, %m message id,\n"               \
    "      %l payload length, %x/%X payload in hex, %j/%J JSON, %I ISO-8601 time,\n"               \
    "      %U Unix time, %P %A %C %D %E %F %R %S MQTT v5 properties, @x strftime,\n"               \
    "      \\n \\t \\e ... escapes; flags, widths and precisions as in printf.\n"                  \
    " --json : print each message as one JSON object (payload as text, or base64\n"                \
    "          when it is not UTF-8; properties included).\n"                                      \
    " --pretty : indent JSON output.\n"                                                            \
    " -R : do not print retained (stale) messages.\n"                                              \
    " -W : give up after this many seconds (exit code 27).\n"

const char tool_usage_pub[] =
    "midge_pub publishes one message, a file, or stdin to an MQTT broker and exits.\n"
    "\n"
    "Usage: midge_pub {[-h host] [-p port] [-u username] [-P password] -t topic | -L URL}\n"
    "                 {-f file | -l | -n | -m message | -s}\n"
    "                 [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time]\n"
    "                 [-x session-expiry] [-i id | -I id_prefix] [-d] [--quiet] [-M max_inflight]\n"
    "                 [--will-topic topic [--will-payload payload] [--will-qos qos] "
    "[--will-retain]]\n"
    "                 [{--cafile file | --capath dir} [--cert file --key file] [--insecure]\n"
    "                  [--tls-version version] [--ciphers list] [--tls-alpn protocol]]\n"
    "                 [-V version] [-D command identifier value]\n"
    "       midge_pub --help\n"
    "\n"
    " -t : topic to publish to.\n"
    " -m : the message payload.\n"
    " -f : send the contents of a file as the message.\n"
    " -s : send all of stdin as one message (binary-safe).\n"
    " -l : send each line of stdin as a message (the newline is not sent).\n"
    " -n : send an empty message (with -r, clears the retained message).\n"
    " -q : QoS 0, 1 or 2. Defaults to 0.\n"
    " -r : retain the message.\n"
    " --repeat : with -m, -f, -s or -n, publish N times.\n"
    " --repeat-delay : seconds to wait between repeated publishes.\n" CONNECT_HELP "\n"
    "Exit status: 0 on success, 1 on errors, or the broker's CONNACK code if it\n"
    "refused the connection. See midge_pub(1).\n";

const char tool_usage_sub[] =
    "midge_sub subscribes to topics on an MQTT broker and prints the messages it receives.\n"
    "\n"
    "Usage: midge_sub {[-h host] [-p port] [-u username] [-P password] -t topic ... | -L URL "
    "[-t topic]}\n"
    "                 [-c] [-k keepalive] [-q qos] [-x session-expiry]\n"
    "                 [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained]\n"
    "                 [-T filter_out ...] [-U topic ...] [-F format | --json] [--pretty]\n"
    "                 [-W timeout] [-i id | -I id_prefix] [-d] [-N] [--quiet] [-v]\n"
    "                 [--will-topic topic [--will-payload payload] [--will-qos qos] "
    "[--will-retain]]\n"
    "                 [{--cafile file | --capath dir} [--cert file --key file] [--insecure]\n"
    "                  [--tls-version version]]\n"
    "                 [-V version] [-D command identifier value]\n"
    "       midge_sub --help\n"
    "\n"
    " -t : topic filter to subscribe to; may be repeated.\n"
    " -q : QoS to subscribe with. Defaults to 0.\n"
    " -C : exit after this many messages.\n"
    " -E : exit once the subscriptions are acknowledged.\n"
    " -T : do not print topics matching this filter; may be repeated.\n"
    " -U : unsubscribe from this filter (after subscribing); may be repeated.\n"
    " --retained-only : print only retained messages; exit at the first fresh one.\n"
    " --remove-retained : clear every retained message received (except -T ones).\n"
    " --retain-as-published : MQTT v5: keep the publisher's retain flag.\n"
    " --random-filter : print only this percentage of messages (0.1-100).\n" OUTPUT_HELP
        CONNECT_HELP "\n"
    "Exit status: 0 on success, 27 when -W expires, 1 on errors, or the broker's\n"
    "CONNACK code if it refused the connection. See midge_sub(1).\n";

const char tool_usage_rr[] =
    "midge_rr publishes a request and waits for a response (MQTT v5 request/response;\n"
    "with -V 311 it subscribes to the response topic and waits for any message).\n"
    "\n"
    "Usage: midge_rr {[-h host] [-p port] [-u username] [-P password] -t topic | -L URL}\n"
    "                -e response-topic {-f file | -n | -m message | -s}\n"
    "                [-c] [-k keepalive] [-q qos] [-R] [-x session-expiry]\n"
    "                [-F format | --json] [--pretty] [-W timeout] [-i id | -I id_prefix]\n"
    "                [-d] [-N] [--quiet] [-v] [-V version] [-D command identifier value]\n"
    "                [--will-topic topic [--will-payload payload] [--will-qos qos] "
    "[--will-retain]]\n"
    "                [{--cafile file | --capath dir} [--cert file --key file] [--insecure]]\n"
    "       midge_rr --help\n"
    "\n"
    " -t : topic the request is published to.\n"
    " -e : response topic: subscribed to, and sent as the request's Response Topic.\n"
    " -m, -f, -s, -n : the request payload, as for midge_pub.\n"
    " -q : QoS of the request and of the subscription. Defaults to 0.\n"
    " Correlation data: -D PUBLISH correlation-data value; responses carrying other\n"
    " correlation data are then ignored.\n" OUTPUT_HELP CONNECT_HELP "\n"
    "Exit status: 0 when a response arrived, 27 when -W expires, 1 on errors, or the\n"
    "broker's CONNACK code if it refused the connection. See midge_rr(1).\n";
