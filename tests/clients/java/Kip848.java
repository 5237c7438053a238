/*
 * The consumer group protocol (KIP-848) with Apache Kafka's Java client (kafka-clients 4.x),
 * for tests/engine/broker_consumer_protocol_test.ts. One command per run, arguments as
 * key=value, one JSON object per line on stdout, exit 1 with an {"error": …} line on failure.
 *
 *   create   bootstrap= topic= partitions=          create the topic (Admin)
 *   produce  bootstrap= topic= from= count=         values v-<from>…, keys spread them over
 *                                                    the partitions (acks=all)
 *   member   bootstrap= topic= group= protocol=     a group member until killed, with
 *            [assignor=]                             group.protocol=<protocol> (consumer or
 *                                                    classic): its whole assignment after each
 *                                                    change, each record, and after each poll
 *                                                    that leaves records uncommitted, commitSync:
 *                                                    the records read so far once it succeeds
 *   describe bootstrap= groups=a,b                  Admin.describeConsumerGroups: type,
 *                                                    state, assignor, members' assignments
 */
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Kip848 {
  public static void main(String[] argv) {
    Map<String, String> args = new HashMap<>();
    for (int i = 1; i < argv.length; i++) {
      int eq = argv[i].indexOf('=');
      if (eq < 0) fail("Cannot read argument \"" + argv[i] + "\": expected key=value");
      args.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
    }
    try {
      switch (argv.length > 0 ? argv[0] : "") {
        case "create" -> create(args);
        case "produce" -> produce(args);
        case "member" -> member(args);
        case "describe" -> describe(args);
        default -> fail("Unknown command: expected create, produce, member or describe");
      }
    } catch (Exception e) {
      fail(e.getClass().getSimpleName() + ": " + e.getMessage());
    }
  }

  private static String need(Map<String, String> args, String key) {
    String v = args.get(key);
    if (v == null) fail("Missing argument " + key + "=");
    return v;
  }

  private static void emit(String json) {
    synchronized (System.out) {
      System.out.println(json);
      System.out.flush();
    }
  }

  private static void fail(String message) {
    emit("{\"error\":" + quote(message) + "}");
    System.exit(1);
  }

  private static String quote(String s) {
    if (s == null) return "null";
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  private static Properties adminProps(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
    return p;
  }

  private static void create(Map<String, String> args) throws Exception {
    try (Admin admin = Admin.create(adminProps(need(args, "bootstrap")))) {
      admin.createTopics(List.of(new NewTopic(need(args, "topic"),
          Integer.parseInt(need(args, "partitions")), (short) 1))).all().get();
    }
    emit("{\"created\":" + quote(args.get("topic")) + "}");
  }

  private static void produce(Map<String, String> args) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, need(args, "bootstrap"));
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    int from = Integer.parseInt(need(args, "from"));
    int count = Integer.parseInt(need(args, "count"));
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = from; i < from + count; i++) {
        producer.send(new ProducerRecord<>(need(args, "topic"), "k-" + i, "v-" + i));
      }
      producer.flush();
    }
    emit("{\"produced\":" + count + "}");
  }

  private static String partitionsJson(Collection<TopicPartition> parts) {
    TreeSet<Integer> sorted = new TreeSet<>();
    for (TopicPartition tp : parts) sorted.add(tp.partition());
    return sorted.toString().replace(" ", "");
  }

  private static String topicPartitionsJson(Collection<TopicPartition> parts) {
    TreeSet<String> sorted = new TreeSet<>();
    for (TopicPartition tp : parts) sorted.add(quote(tp.topic() + ":" + tp.partition()));
    return "[" + String.join(",", sorted) + "]";
  }

  private static void member(Map<String, String> args) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, need(args, "bootstrap"));
    p.put(ConsumerConfig.GROUP_ID_CONFIG, need(args, "group"));
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, need(args, "protocol"));
    if (args.containsKey("assignor")) {
      p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, args.get("assignor"));
    }
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p);
    ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        if (!partitions.isEmpty()) emit("{\"revoked\":" + partitionsJson(partitions) + "}");
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        emit("{\"assigned\":" + partitionsJson(consumer.assignment()) + ",\"tps\":"
            + topicPartitionsJson(consumer.assignment()) + "}");
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> partitions) {
        emit("{\"lost\":" + partitionsJson(partitions) + "}");
      }
    };
    if (args.containsKey("pattern")) {
      // A regex the broker resolves (ConsumerGroupHeartbeat v1), not the client.
      consumer.subscribe(new SubscriptionPattern(args.get("pattern")), listener);
    } else {
      consumer.subscribe(List.of(need(args, "topic")), listener);
    }
    long read = 0;
    long committed = 0;
    for (;;) {
      ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
      List<String> seen = new ArrayList<>();
      for (ConsumerRecord<String, String> r : records) {
        seen.add("{\"record\":" + quote(r.value()) + ",\"t\":" + quote(r.topic()) + ",\"p\":"
            + r.partition() + ",\"o\":" + r.offset() + "}");
      }
      for (String s : seen) emit(s);
      read += records.count();
      if (read > committed) {
        // A failed commit (the broker restarting, a rebalance) is said and tried again after
        // the next poll, with the positions then.
        try {
          consumer.commitSync();
          committed = read;
          emit("{\"committed\":" + committed + "}");
        } catch (Exception e) {
          emit("{\"commitFailed\":" + quote(e.getClass().getSimpleName() + ": " + e.getMessage())
              + "}");
        }
      }
    }
  }

  private static void describe(Map<String, String> args) throws Exception {
    try (Admin admin = Admin.create(adminProps(need(args, "bootstrap")))) {
      List<String> groups = List.of(need(args, "groups").split(","));
      Map<String, ConsumerGroupDescription> all =
          admin.describeConsumerGroups(groups).all().get();
      for (String g : groups) {
        ConsumerGroupDescription d = all.get(g);
        StringBuilder members = new StringBuilder("[");
        List<String> parts = new ArrayList<>();
        for (MemberDescription m : d.members()) {
          parts.add(partitionsJson(m.assignment().topicPartitions()));
        }
        parts.sort(null);
        members.append(String.join(",", parts)).append(']');
        emit("{\"group\":" + quote(g) + ",\"type\":" + quote(String.valueOf(d.type()))
            + ",\"state\":" + quote(String.valueOf(d.groupState()))
            + ",\"assignor\":" + quote(d.partitionAssignor())
            + ",\"members\":" + members + "}");
      }
    }
  }
}
