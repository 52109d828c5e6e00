"""Creates a topic over the Kafka protocol (CreateTopics, through confluent-kafka's
AdminClient), with topic configs given as key=value, e.g. strata.durability=always.

usage: create_topic.py BOOTSTRAP TOPIC PARTITIONS [KEY=VALUE ...]
"""

import sys

from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = dict(arg.split("=", 1) for arg in sys.argv[4:])
admin = AdminClient({"bootstrap.servers": bootstrap})
futures = admin.create_topics(
    [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config)],
    operation_timeout=10,
)
futures[topic].result(timeout=10)  # raises with the broker's error code and message
print(f"created {topic}")
