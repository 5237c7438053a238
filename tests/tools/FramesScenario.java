/*
 * The scenario tests/tools/capture_frames.ts drives through its recording proxy: Apache
 * Kafka's own Java client (kafka-clients 3.9 or 4.x, whichever is on the classpath) calling
 * every API the embedded broker implements, with client defaults except where a step says.
 * Run from source (no compile step): java -cp '<kafka-clients libs>/*' FramesScenario.java
 * BOOTSTRAP SUFFIX SASL_BOOTSTRAP. Each step uses its own client id (frames-admin,
 * frames-producer, frames-consumer, frames-txn, frames-txn-admin, frames-sasl, frames-kip848,
 * frames-kip848-admin), so a captured
 * request names its step; one line per step on stdout. The transactional step writes to
 * partition 1 only and commits the group's offsets as they stand, so the other steps' checks
 * see what they saw without it. SASL_BOOTSTRAP is a SASL_PLAINTEXT listener with
 * SCRAM-SHA-512, where an admin logs in as the user the first admin made.
 */
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class FramesScenario {
  public static void main(String[] argv) throws Exception {
    String bootstrap = argv[0];
    String topic = "frames-" + argv[1];
    String group = "frames-group-" + argv[1];
    String saslBootstrap = argv[2];
    String user = "frames-user-" + argv[1];
    TopicPartition p0 = new TopicPartition(topic, 0);
    ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);

    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      NewTopic nt = new NewTopic(topic, 1, (short) 1).configs(Map.of("retention.ms", "86400000"));
      admin.createTopics(List.of(nt)).all().get();
      step("created " + topic);
      admin.describeCluster().nodes().get();
      step("described the cluster");
      admin.describeConfigs(List.of(res)).all().get();
      step("described the topic's configs");
      AlterConfigOp set =
          new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET);
      admin.incrementalAlterConfigs(Map.of(res, List.of(set))).all().get();
      step("set retention.ms");
      admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get();
      step("grew the topic to 2 partitions");
      ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096);
      admin.alterUserScramCredentials(List.of(
          new UserScramCredentialUpsertion(user, info, "frames-password"))).all().get();
      step("added " + user + "'s SCRAM-SHA-512 credential");
      admin.describeUserScramCredentials(List.of(user)).all().get();
      step("described " + user + "'s SCRAM credentials");
      admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get();
      step("described the client quotas");
    }

    // The credential reaches Apache Kafka's SCRAM cache through its metadata log: retry.
    long saslDeadline = System.currentTimeMillis() + 30_000;
    for (;;) {
      Properties sp = adminProps(saslBootstrap);
      sp.put(AdminClientConfig.CLIENT_ID_CONFIG, "frames-sasl");
      sp.put("security.protocol", "SASL_PLAINTEXT");
      sp.put("sasl.mechanism", "SCRAM-SHA-512");
      sp.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule "
          + "required username=\"" + user + "\" password=\"frames-password\";");
      try (Admin admin = Admin.create(sp)) {
        admin.describeCluster().nodes().get();
        break;
      } catch (Exception e) {
        if (System.currentTimeMillis() > saslDeadline) throw e;
        Thread.sleep(200);
      }
    }
    step("logged in as " + user + " over SASL_PLAINTEXT, described the cluster");

    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.CLIENT_ID_CONFIG, "frames-producer");
    pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      for (int i = 0; i < 3; i++) producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get();
    }
    step("produced 3 records, idempotent, one at a time");

    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.CLIENT_ID_CONFIG, "frames-consumer");
    cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    // Short, so a heartbeat goes out while the records are read.
    cp.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 100);
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
      consumer.subscribe(List.of(topic));
      int seen = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (seen < 3) {
        if (System.currentTimeMillis() > deadline) throw new Exception("consumed " + seen + " of 3");
        seen += consumer.poll(Duration.ofMillis(200)).count();
      }
      long until = System.currentTimeMillis() + 1_000;
      while (System.currentTimeMillis() < until) consumer.poll(Duration.ofMillis(100));
      consumer.commitSync();
    }
    step("consumed 3 records in " + group + ", committed, left");

    // The consumer group protocol (KIP-848): a member of a group of its own, described while
    // it holds both partitions, then leaving.
    String cgroup = "frames-cgroup-" + argv[1];
    Properties kp = new Properties();
    kp.putAll(cp);
    kp.put(ConsumerConfig.CLIENT_ID_CONFIG, "frames-kip848");
    kp.put(ConsumerConfig.GROUP_ID_CONFIG, cgroup);
    kp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    kp.remove(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG);
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(kp);
        Admin admin = Admin.create(adminProps(bootstrap, "frames-kip848-admin"))) {
      consumer.subscribe(List.of(topic));
      int seen = 0;
      long deadline = System.currentTimeMillis() + 30_000;
      while (seen < 3 || consumer.assignment().size() < 2) {
        if (System.currentTimeMillis() > deadline) throw new Exception("consumed " + seen + " of 3");
        seen += consumer.poll(Duration.ofMillis(200)).count();
      }
      admin.describeConsumerGroups(List.of(cgroup)).all().get();
    }
    step("consumed 3 records in " + cgroup + " (group.protocol=consumer), described it, left");

    String txnId = "frames-txn-" + argv[1];
    Properties tp = new Properties();
    tp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    tp.put(ProducerConfig.CLIENT_ID_CONFIG, "frames-txn");
    tp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    tp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    tp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(tp);
        Admin admin = Admin.create(adminProps(bootstrap, "frames-txn-admin"))) {
      producer.initTransactions();
      producer.beginTransaction();
      producer.send(new ProducerRecord<>(topic, 1, "t0", "committed")).get();
      producer.sendOffsetsToTransaction(
          Map.of(p0, new OffsetAndMetadata(3)), new ConsumerGroupMetadata(group));
      producer.commitTransaction();
      step("transactional producer " + txnId + ": committed a record to partition 1 and " + group + "'s offset");
      producer.beginTransaction();
      producer.send(new ProducerRecord<>(topic, 1, "t1", "aborted")).get();
      admin.describeTransactions(List.of(txnId)).all().get();
      step("described " + txnId + " with a transaction open");
      admin.describeProducers(List.of(new TopicPartition(topic, 1))).all().get();
      step("described the producers of partition 1");
      producer.abortTransaction();
      step("aborted it");
      admin.listTransactions().all().get();
      step("listed transactions");
    }

    try (Admin admin = Admin.create(adminProps(bootstrap))) {
      admin.listOffsets(Map.of(p0, OffsetSpec.latest())).all().get();
      step("listed the latest offset");
      admin.listConsumerGroups().all().get();
      step("listed groups");
      admin.describeConsumerGroups(List.of(group)).all().get();
      step("described " + group);
      admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      step("fetched " + group + "'s offsets");
      admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all().get();
      step("deleted " + group + "'s offset of partition 0");
      admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(1))).all().get();
      step("deleted records before offset 1");
      admin.deleteConsumerGroups(List.of(group)).all().get();
      step("deleted " + group);
      admin.deleteTopics(List.of(topic)).all().get();
      step("deleted " + topic);
    }
  }

  private static Properties adminProps(String bootstrap) {
    return adminProps(bootstrap, "frames-admin");
  }

  private static Properties adminProps(String bootstrap, String clientId) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
    return p;
  }

  private static void step(String what) {
    System.out.println(what);
    System.out.flush();
  }
}
