"""DescribeConfigs from confluent-kafka's AdminClient and kafka-python's KafkaAdminClient:
create a topic with two configs set, then describe it, the broker and an unknown topic.
Prints one JSON object with what each client saw."""
import json
import sys

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka.admin import ConfigResource as PyConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient

bootstrap, topic = sys.argv[1:3]
admin = AdminClient({"bootstrap.servers": bootstrap})
for f in admin.create_topics([NewTopic(topic, 2, 1, config={
        "retention.ms": "60000", "strata.durability": "never"})]).values():
    f.result(10)
out = {}
described = admin.describe_configs([ConfigResource("topic", topic), ConfigResource("broker", "0")])
for resource, future in described.items():
    key = "confluent_" + resource.restype.name.lower()
    out[key] = {name: {"value": e.value, "default": e.is_default, "read_only": e.is_read_only,
                       "source": e.source}
                for name, e in future.result(10).items()}
try:
    admin.describe_configs([ConfigResource("topic", "no-such-topic")])[
        ConfigResource("topic", "no-such-topic")].result(10)
    out["confluent_unknown"] = None
except Exception as e:  # the error is what the test reads
    out["confluent_unknown"] = e.args[0].name()

py = KafkaAdminClient(bootstrap_servers=bootstrap)
modified = py.describe_configs([PyConfigResource(ConfigResourceType.TOPIC, topic)])
out["python_modified"] = {name: c["value"] for name, c in modified["topic"][topic].items()}
filtered = py.describe_configs(
    [PyConfigResource(ConfigResourceType.TOPIC, topic, ["segment.bytes", "retention.ms"])],
    include_synonyms=True, config_filter="all")
out["python_filtered"] = {
    name: {"value": c["value"], "source": c["config_source"], "type": c.get("config_type"),
           "synonyms": [(s["name"], s["value"], s["source"]) for s in c["synonyms"]]}
    for name, c in filtered["topic"][topic].items()}
broker = py.describe_configs([PyConfigResource(ConfigResourceType.BROKER, "0")],
                             config_filter="all")
out["python_broker"] = {name: c["value"] for name, c in broker["broker"]["0"].items()}
py.close()
print(json.dumps(out, sort_keys=True))
