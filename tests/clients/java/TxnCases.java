/*
 * The transaction cases of tests/engine/broker_transactions_test.ts, run with Apache Kafka's
 * own Java client against Apache Kafka and the embedded broker: `TxnCases <step> key=value…`,
 * one JSON object on stdout, exit 1 with {"error": …} on failure. Every record read is
 * printed as "partition:offset=value", so two brokers' answers compare line for line.
 *
 * Steps (all take bootstrap=, topic=; txn= is the transactional id):
 *   commit-abort  a topic of 2 partitions; a transaction committed, one aborted, one committed
 *   open          a transaction committed, then one left open (end=commit commits it after
 *                 the views; end=halt leaves the JVM without closing the producer, an
 *                 abandoned transaction, with timeout= ms)
 *   fence         two producers with one transactional id: the first is a zombie once the
 *                 second initializes; what the zombie gets, what read_committed reads
 *   offsets       sendOffsetsToTransaction for group=: the group's offsets before the
 *                 commit, after it, and after an aborted second transaction
 *   init          a new producer with the transactional id commits one record (value=)
 *   view          what read_committed and read_uncommitted consumers read, and end offsets
 *   lines         count= lines of the words in words= (comma-separated) to the topic, one
 *                 word more per line cycling through them (the Streams case's input)
 *   counts        per key, the values read_committed reads from the topic, in order
 */
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class TxnCases {
  private static Map<String, String> args;

  public static void main(String[] argv) {
    args = new HashMap<>();
    for (int i = 1; i < argv.length; i++) {
      int eq = argv[i].indexOf('=');
      args.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
    }
    try {
      Map<String, Object> out = run(argv[0]);
      System.out.println(json(out));
      System.out.flush();
      System.exit(0);
    } catch (Throwable e) {
      Map<String, Object> err = new TreeMap<>();
      err.put("error", e.toString());
      System.out.println(json(err));
      e.printStackTrace();
      System.exit(1);
    }
  }

  private static String arg(String k) {
    String v = args.get(k);
    if (v == null) throw new IllegalArgumentException("missing " + k + "=");
    return v;
  }

  private static Map<String, Object> run(String step) throws Exception {
    String topic = arg("topic");
    Map<String, Object> out = new TreeMap<>();
    switch (step) {
      case "commit-abort": {
        create(topic, 2);
        try (KafkaProducer<String, String> p = producer(arg("txn"), 60_000)) {
          p.initTransactions();
          p.beginTransaction();
          send(p, topic, 0, "a0");
          send(p, topic, 0, "a1");
          send(p, topic, 1, "a2");
          p.commitTransaction();
          p.beginTransaction();
          send(p, topic, 0, "b0");
          send(p, topic, 1, "b1");
          p.abortTransaction();
          p.beginTransaction();
          send(p, topic, 0, "c0");
          p.commitTransaction();
        }
        out.putAll(view(topic, 2));
        return out;
      }
      case "open": {
        create(topic, 1);
        int timeout = Integer.parseInt(args.getOrDefault("timeout", "60000"));
        KafkaProducer<String, String> p = producer(arg("txn"), timeout);
        p.initTransactions();
        p.beginTransaction();
        send(p, topic, 0, "x0");
        p.commitTransaction();
        p.beginTransaction();
        send(p, topic, 0, "y0");
        p.flush();
        out.put("open", view(topic, 1));
        if (arg("end").equals("halt")) {
          System.out.println(json(out));
          System.out.flush();
          Runtime.getRuntime().halt(0); // no close: the transaction is abandoned
        }
        p.commitTransaction();
        p.close();
        out.put("committed", view(topic, 1));
        return out;
      }
      case "fence": {
        create(topic, 1);
        KafkaProducer<String, String> zombie = producer(arg("txn"), 60_000);
        zombie.initTransactions();
        zombie.beginTransaction();
        send(zombie, topic, 0, "z0");
        try (KafkaProducer<String, String> p = producer(arg("txn"), 60_000)) {
          p.initTransactions();
          List<String> got = new ArrayList<>();
          try {
            send(zombie, topic, 0, "z1");
            got.add("send ok");
            zombie.commitTransaction();
            got.add("commit ok");
          } catch (Exception e) {
            got.add(chain(e));
          }
          out.put("zombie", got);
          zombie.close(Duration.ofSeconds(5));
          p.beginTransaction();
          send(p, topic, 0, "w0");
          p.commitTransaction();
        }
        out.putAll(view(topic, 1));
        return out;
      }
      case "offsets": {
        create(topic, 1);
        String group = arg("group");
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = producer(arg("txn"), 60_000);
            Admin admin = Admin.create(adminProps())) {
          p.initTransactions();
          p.beginTransaction();
          send(p, topic, 0, "o0");
          p.sendOffsetsToTransaction(
              Map.of(tp, new OffsetAndMetadata(7, "m")), new ConsumerGroupMetadata(group));
          out.put("before commit", offsets(admin, group, false));
          p.commitTransaction();
          out.put("after commit", offsets(admin, group, true));
          p.beginTransaction();
          p.sendOffsetsToTransaction(
              Map.of(tp, new OffsetAndMetadata(9, "n")), new ConsumerGroupMetadata(group));
          p.abortTransaction();
          out.put("after abort", offsets(admin, group, true));
        }
        return out;
      }
      case "init": {
        try (KafkaProducer<String, String> p = producer(arg("txn"), 60_000)) {
          p.initTransactions();
          p.beginTransaction();
          send(p, topic, 0, arg("value"));
          p.commitTransaction();
        }
        out.putAll(view(topic, Integer.parseInt(args.getOrDefault("partitions", "1"))));
        return out;
      }
      case "view":
        out.putAll(view(topic, Integer.parseInt(args.getOrDefault("partitions", "1"))));
        return out;
      case "lines": {
        create(topic, 1);
        String[] words = arg("words").split(",");
        int count = Integer.parseInt(arg("count"));
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, arg("bootstrap"));
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
          for (int i = 0; i < count; i++) {
            p.send(new ProducerRecord<>(topic, null, words[i % words.length] + " " + words[(i + 1) % words.length]));
          }
        }
        out.put("sent", count);
        return out;
      }
      case "counts": {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, arg("bootstrap"));
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
          List<TopicPartition> tps = new ArrayList<>();
          consumer.partitionsFor(topic).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
          consumer.assign(tps);
          consumer.seekToBeginning(tps);
          Map<TopicPartition, Long> end = consumer.endOffsets(tps);
          Map<String, List<String>> byKey = new TreeMap<>();
          long deadline = System.currentTimeMillis() + 60_000;
          while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("did not reach " + end);
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
              byKey.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
            }
          }
          out.putAll(byKey);
        }
        return out;
      }
      default:
        throw new IllegalArgumentException("unknown step " + step);
    }
  }

  private static String chain(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (b.length() > 0) b.append(" <- ");
      b.append(t.getClass().getSimpleName());
      if (t.getCause() == t) break;
    }
    return b.toString();
  }

  /**
   * The group's committed offsets; `stable`: once no transaction holds one of them pending.
   * Kafka writes a transaction's markers after EndTxn answers, and a stable read of a
   * partition with pending offsets gets UNSTABLE_OFFSET_COMMIT, which the Admin client
   * leaves out: so a stable read is repeated until it has every partition (30 s at most).
   */
  private static Map<String, String> offsets(Admin admin, String group, boolean stable)
      throws Exception {
    ListConsumerGroupOffsetsOptions opts = new ListConsumerGroupOffsetsOptions().requireStable(stable);
    long deadline = System.currentTimeMillis() + 30_000;
    for (;;) {
      Map<String, String> out = new TreeMap<>();
      admin.listConsumerGroupOffsets(group, opts).partitionsToOffsetAndMetadata().get().forEach(
          (tp, om) -> out.put(tp.toString(), om.offset() + " " + om.metadata()));
      if (!stable || !out.isEmpty()) return out;
      if (System.currentTimeMillis() > deadline) throw new IllegalStateException("no stable offsets");
      Thread.sleep(100);
    }
  }

  private static void send(KafkaProducer<String, String> p, String topic, int partition, String v)
      throws Exception {
    p.send(new ProducerRecord<>(topic, partition, null, v)).get();
  }

  private static Properties adminProps() {
    Properties a = new Properties();
    a.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, arg("bootstrap"));
    return a;
  }

  private static void create(String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(adminProps())) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }

  private static KafkaProducer<String, String> producer(String txn, int timeoutMs) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, arg("bootstrap"));
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txn);
    p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, timeoutMs);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    return new KafkaProducer<>(p);
  }

  /** What each isolation level reads of `topic` from the beginning, and its end offsets. */
  private static Map<String, Object> view(String topic, int partitions) {
    Map<String, Object> out = new TreeMap<>();
    for (String iso : List.of("read_committed", "read_uncommitted")) {
      Properties c = new Properties();
      c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, arg("bootstrap"));
      c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, iso);
      c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
      c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
        Map<TopicPartition, Long> end = consumer.endOffsets(tps);
        List<String> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
          if (System.currentTimeMillis() > deadline) {
            throw new IllegalStateException(iso + ": did not reach " + end + ", read " + got);
          }
          for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
            got.add(r.partition() + ":" + r.offset() + "=" + r.value());
          }
        }
        got.sort(null);
        Map<String, Long> ends = new TreeMap<>();
        end.forEach((tp, o) -> ends.put(String.valueOf(tp.partition()), o));
        out.put(iso, got);
        out.put(iso + " end", ends);
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static String json(Object o) {
    if (o == null) return "null";
    if (o instanceof String s) {
      return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
    if (o instanceof Number || o instanceof Boolean) return o.toString();
    if (o instanceof Map<?, ?> m) {
      List<String> parts = new ArrayList<>();
      for (Map.Entry<?, ?> e : ((Map<Object, Object>) m).entrySet()) {
        parts.add(json(String.valueOf(e.getKey())) + ":" + json(e.getValue()));
      }
      return "{" + String.join(",", parts) + "}";
    }
    if (o instanceof List<?> l) {
      List<String> parts = new ArrayList<>();
      for (Object x : l) parts.add(json(x));
      return "[" + String.join(",", parts) + "]";
    }
    return json(o.toString());
  }
}
