/*
 * The Java Kafka client (org.apache.kafka:kafka-clients, 3.9 and 4.x) driven through the
 * client matrix's steps (tests/clients/_matrix.ts): one command per run, arguments as
 * key=value, one JSON object per line on stdout, exit 1 with an {"error": …} line on failure.
 *
 *   create   bootstrap= topic=                      topic with the broker's default partitions
 *                                                    and replication factor, then described
 *   produce  bootstrap= topic= codecs= count= [idempotent=true] [sync=true]
 *                                                    acks=all, into topic-<codec> for each codec
 *   consume  bootstrap= topic= count= group=         subscribe from the earliest offset
 *   member   bootstrap= topic= group= session=       a group member until killed: its
 *                                                    assignment after each rebalance, its records
 *   offsets  bootstrap= topic= group= commit=0:5,1:7 commit, then fetch back (consumer, admin)
 *
 * Everything is the client's default except what the matrix states: acks=all, the codec,
 * auto.offset.reset=earliest, a short session timeout for the group step, and timeouts short
 * enough that a broker that cannot answer fails the step in seconds, not minutes.
 * Compiled once per client version into the engine cache by tests/_engines.ts.
 */
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class ClientMatrix {
  private static final String PAD = "abcdefghij".repeat(10);

  public static void main(String[] argv) {
    if (argv.length < 1) {
      fail("Cannot run ClientMatrix: no command given (create, produce, consume, member, offsets)");
    }
    Map<String, String> args = new HashMap<>();
    for (int i = 1; i < argv.length; i++) {
      int eq = argv[i].indexOf('=');
      if (eq < 0) fail("Cannot read argument \"" + argv[i] + "\": expected key=value");
      args.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
    }
    try {
      switch (argv[0]) {
        case "create" -> create(args);
        case "produce" -> produce(args);
        case "consume" -> consume(args);
        case "member" -> member(args);
        case "offsets" -> offsets(args);
        default -> fail("Unknown command \"" + argv[0] + "\"");
      }
    } catch (Exception e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      fail(cause.getClass().getName() + ": " + cause.getMessage());
    }
    System.exit(0);
  }

  private static String need(Map<String, String> args, String key) {
    String v = args.get(key);
    if (v == null) fail("Missing argument " + key + "=");
    return v;
  }

  private static void fail(String message) {
    System.out.println("{\"error\":" + str(message) + "}");
    System.out.flush();
    System.exit(1);
  }

  private static void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  /** A JSON string literal. */
  private static String str(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }

  private static Properties adminProps(String bootstrap) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
    return p;
  }

  private static void create(Map<String, String> args) throws Exception {
    String topic = need(args, "topic");
    try (Admin admin = Admin.create(adminProps(need(args, "bootstrap")))) {
      admin.createTopics(List.of(new NewTopic(topic, Optional.empty(), Optional.empty())))
          .all().get();
      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      emit("{\"topic\":" + str(topic) + ",\"partitions\":" + d.partitions().size()
          + ",\"replicationFactor\":" + d.partitions().get(0).replicas().size() + "}");
    }
  }

  private static void produce(Map<String, String> args) throws Exception {
    String bootstrap = need(args, "bootstrap");
    String topic = need(args, "topic");
    int count = Integer.parseInt(need(args, "count"));
    boolean sync = "true".equals(args.get("sync"));
    for (String codec : need(args, "codecs").split(",")) {
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
      if (args.containsKey("idempotent")) {
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, args.get("idempotent"));
      }
      p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20_000);
      p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
      p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
      p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      String target = topic + "-" + codec;
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < count; i++) {
          RecordHeaders headers = new RecordHeaders();
          headers.add("index", String.valueOf(i).getBytes(StandardCharsets.UTF_8));
          headers.add("codec", codec.getBytes(StandardCharsets.UTF_8));
          Future<RecordMetadata> f = producer.send(new ProducerRecord<>(
              target, null, "k" + i, codec + " record " + i + " " + PAD, headers));
          if (sync) f.get();
          sent.add(f);
        }
        producer.flush();
        for (Future<RecordMetadata> f : sent) {
          RecordMetadata m = f.get();
          emit("{\"topic\":" + str(m.topic()) + ",\"partition\":" + m.partition()
              + ",\"offset\":" + m.offset() + "}");
        }
      }
    }
  }

  private static Properties consumerProps(String bootstrap, String group) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    return p;
  }

  private static String recordJson(ConsumerRecord<String, String> r) {
    StringBuilder h = new StringBuilder("{");
    for (Header header : r.headers()) {
      if (h.length() > 1) h.append(',');
      h.append(str(header.key())).append(':')
          .append(str(new String(header.value(), StandardCharsets.UTF_8)));
    }
    h.append('}');
    return "{\"topic\":" + str(r.topic()) + ",\"partition\":" + r.partition() + ",\"offset\":"
        + r.offset() + ",\"key\":" + str(r.key()) + ",\"value\":" + str(r.value())
        + ",\"headers\":" + h + "}";
  }

  private static void consume(Map<String, String> args) {
    int count = Integer.parseInt(need(args, "count"));
    Properties p = consumerProps(need(args, "bootstrap"), need(args, "group"));
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(need(args, "topic")));
      int seen = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (seen < count) {
        if (System.currentTimeMillis() > deadline) {
          fail("Cannot consume " + count + " records in 30 s: got " + seen);
        }
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          emit(recordJson(r));
          seen++;
        }
      }
      consumer.commitSync();
    }
  }

  private static String partitionsJson(Collection<TopicPartition> parts) {
    Set<Integer> sorted = new TreeSet<>();
    for (TopicPartition tp : parts) sorted.add(tp.partition());
    return sorted.toString().replace(" ", "");
  }

  private static void member(Map<String, String> args) {
    Properties p = consumerProps(need(args, "bootstrap"), need(args, "group"));
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, need(args, "session"));
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p);
    consumer.subscribe(List.of(need(args, "topic")), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        // With the cooperative assignor this is only what was added: print the whole set.
        emit("{\"assigned\":" + partitionsJson(consumer.assignment()) + "}");
      }
    });
    for (;;) {
      for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
        emit("{\"record\":" + recordJson(r) + "}");
      }
    }
  }

  private static Map<TopicPartition, Long> parseCommit(String topic, String spec) {
    Map<TopicPartition, Long> out = new HashMap<>();
    for (String part : spec.split(",")) {
      String[] kv = part.split(":");
      out.put(new TopicPartition(topic, Integer.parseInt(kv[0])), Long.parseLong(kv[1]));
    }
    return out;
  }

  private static String offsetsJson(Map<TopicPartition, OffsetAndMetadata> offsets) {
    Map<Integer, Long> sorted = new TreeMap<>();
    offsets.forEach((tp, om) -> {
      if (om != null) sorted.put(tp.partition(), om.offset());
    });
    StringBuilder b = new StringBuilder("{");
    sorted.forEach((k, v) -> {
      if (b.length() > 1) b.append(',');
      b.append('"').append(k).append("\":").append(v);
    });
    return b.append('}').toString();
  }

  private static void offsets(Map<String, String> args) throws Exception {
    String bootstrap = need(args, "bootstrap");
    String topic = need(args, "topic");
    String group = need(args, "group");
    Map<TopicPartition, Long> commit = parseCommit(topic, need(args, "commit"));
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(consumerProps(bootstrap, group))) {
      consumer.assign(commit.keySet());
      Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
      commit.forEach((tp, o) -> toCommit.put(tp, new OffsetAndMetadata(o, "matrix")));
      consumer.commitSync(toCommit);
      emit("{\"consumerCommitted\":" + offsetsJson(consumer.committed(commit.keySet())) + "}");
    }
    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      Map<TopicPartition, OffsetAndMetadata> listed =
          admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      emit("{\"adminListed\":" + offsetsJson(listed) + "}");
    }
  }
}
