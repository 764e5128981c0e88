"""confluent-kafka AdminClient against the broker: CreateTopics validation
and configs, DescribeConfigs for topics and the broker.
Usage: admin_checks.py BOOTSTRAP create|check"""

import sys

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

bootstrap, mode = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})


def create(topic):
    """The KafkaError code of creating `topic`, or None on success."""
    try:
        admin.create_topics([topic], operation_timeout=30)[topic.topic].result(timeout=30)
        return None
    except KafkaException as e:
        return e.args[0].code()


def describe(kind, name):
    resource = ConfigResource(kind, name)
    return admin.describe_configs([resource])[resource].result(timeout=30)


if mode == "create":
    assert create(NewTopic("configured", 3, 1, config={"retention.ms": "3600000", "cleanup.policy": "delete"})) is None
    assert create(NewTopic("configured", 3, 1)) == KafkaError.TOPIC_ALREADY_EXISTS
    assert create(NewTopic("small-batches", 1, 1, config={"max.message.bytes": "1500"})) is None
    assert create(NewTopic("bad name!", 1, 1)) == KafkaError.TOPIC_EXCEPTION
    assert create(NewTopic("too-many-replicas", 1, 3)) == KafkaError.INVALID_REPLICATION_FACTOR
    assert create(NewTopic("bad-config", 1, 1, config={"retention.ms": "soon"})) == KafkaError.INVALID_CONFIG
    assert create(NewTopic("unknown-config", 1, 1, config={"no.such.config": "1"})) == KafkaError.INVALID_CONFIG
    # An unfiltered listing: librdkafka's Metadata v12 request for all
    # topics carries bytes after its body, which Kafka (and Sluice) ignore.
    listed = admin.list_topics(timeout=30).topics
    assert len(listed["configured"].partitions) == 3, listed
    # Refused topics were not created (DescribeConfigs never auto-creates).
    for refused in ["too-many-replicas", "bad-config", "unknown-config"]:
        try:
            describe(ConfigResource.Type.TOPIC, refused)
            raise AssertionError(f"{refused} exists")
        except KafkaException as e:
            assert e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, (refused, e)

configs = describe(ConfigResource.Type.TOPIC, "configured")
assert configs["retention.ms"].value == "3600000", configs["retention.ms"]
assert not configs["retention.ms"].is_default
assert configs["segment.bytes"].is_default, configs["segment.bytes"]
broker = describe(ConfigResource.Type.BROKER, "0")
assert broker["num.partitions"].value == "1", broker["num.partitions"]
assert broker["auto.create.topics.enable"].value == "true"
try:
    describe(ConfigResource.Type.TOPIC, "no-such-topic")
    raise AssertionError("describing an unknown topic succeeded")
except KafkaException as e:
    assert e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, e
print("ok: admin", mode)
