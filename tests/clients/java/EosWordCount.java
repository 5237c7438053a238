/*
 * A Kafka Streams word count with processing.guarantee=exactly_once_v2, for
 * tests/engine/broker_streams_eos_test.ts: `EosWordCount bootstrap= app= input= output=
 * state=`. Lines of words come in on `input`; every count update goes out on `output` (no
 * caching: one record per word read, the word as key, its count so far as value), so with
 * exactly-once the output holds, for each word, exactly 1, 2, … n, whatever kills happened.
 * It prints "running" once the application runs and "processed N" every 1,000 lines, and
 * runs until it is killed.
 */
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

public final class EosWordCount {
  public static void main(String[] argv) throws Exception {
    java.util.Map<String, String> a = new java.util.HashMap<>();
    for (String s : argv) a.put(s.substring(0, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("app"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("state"));
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.String().getClass());
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.String().getClass());
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // A killed instance's group member is noticed soon, so the restart gets its tasks.
    p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 6000);
    p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 1000);

    AtomicLong lines = new AtomicLong();
    StreamsBuilder b = new StreamsBuilder();
    b.<String, String>stream(a.get("input"))
        .peek((k, v) -> {
          long n = lines.incrementAndGet();
          if (n % 1000 == 0) {
            System.out.println("processed " + n);
            System.out.flush();
          }
        })
        .flatMapValues(v -> Arrays.asList(v.split(" ")))
        .groupBy((k, w) -> w)
        .count()
        .toStream()
        .mapValues(String::valueOf)
        .to(a.get("output"), Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    streams.setStateListener((now, before) -> {
      System.out.println("state " + now);
      if (now == KafkaStreams.State.RUNNING) System.out.println("running");
      System.out.flush();
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.out.println("error " + e);
      e.printStackTrace();
      System.out.flush();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    streams.start();
    Thread.sleep(Long.MAX_VALUE);
  }
}
