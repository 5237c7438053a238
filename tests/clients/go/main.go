// The franz-go client (kgo and kadm, the library kcl is built on) driven through the client
// matrix's steps (tests/clients/_matrix.ts): one command per run, arguments as key=value,
// one JSON object per line on stdout, exit 1 with an {"error": …} line on failure.
//
//	create   bootstrap= topic=                       topic with the broker's defaults (-1, -1)
//	produce  bootstrap= topic= codecs= count= [idempotent=true|false] [sync=true]
//	consume  bootstrap= topic= count= group=
//	member   bootstrap= topic= group= session=       a group member until killed
//	offsets  bootstrap= topic= group= commit=0:5,1:7 commit, then fetch back
//
// franz-go's defaults throughout (acks=all and the idempotent producer are its defaults;
// its group balancer is cooperative-sticky), except the codec, a start-of-log reset, the
// session timeout of the group step, and a 30 s bound on every step so a broker that
// cannot answer fails the step instead of retrying forever.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const pad = "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"

var out sync.Mutex

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out.Lock()
	defer out.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func fail(format string, args ...any) {
	emit(map[string]string{"error": fmt.Sprintf(format, args...)})
	os.Exit(1)
}

func need(args map[string]string, key string) string {
	v, ok := args[key]
	if !ok {
		fail("Missing argument %s=", key)
	}
	return v
}

func main() {
	if len(os.Args) < 2 {
		fail("Cannot run franz-matrix: no command given (create, produce, consume, member, offsets)")
	}
	args := map[string]string{}
	for _, a := range os.Args[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			fail("Cannot read argument %q: expected key=value", a)
		}
		args[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "create":
		err = create(ctx, args)
	case "produce":
		err = produce(ctx, args)
	case "consume":
		err = consume(ctx, args)
	case "member":
		err = member(args)
	case "offsets":
		err = offsets(ctx, args)
	default:
		fail("Unknown command %q", os.Args[1])
	}
	if err != nil {
		fail("%v", err)
	}
}

func client(args map[string]string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(need(args, "bootstrap"))}, opts...)...)
	if err != nil {
		fail("Cannot create a client: %v", err)
	}
	return cl
}

func create(ctx context.Context, args map[string]string) error {
	cl := client(args)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := need(args, "topic")
	resps, err := adm.CreateTopics(ctx, -1, -1, nil, topic)
	if err != nil {
		return err
	}
	if err := resps.Error(); err != nil {
		return err
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	d := details[topic]
	if d.Err != nil {
		return d.Err
	}
	emit(map[string]any{
		"topic":             topic,
		"partitions":        len(d.Partitions),
		"replicationFactor": len(d.Partitions[0].Replicas),
	})
	return nil
}

var codecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

func produce(ctx context.Context, args map[string]string) error {
	count, _ := strconv.Atoi(need(args, "count"))
	topic := need(args, "topic")
	sync := args["sync"] == "true"
	for _, codec := range strings.Split(need(args, "codecs"), ",") {
		c, ok := codecs[codec]
		if !ok {
			return fmt.Errorf("unknown codec %q", codec)
		}
		opts := []kgo.Opt{
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerBatchCompression(c),
			kgo.RecordDeliveryTimeout(30 * time.Second),
		}
		if args["idempotent"] == "false" {
			opts = append(opts, kgo.DisableIdempotentWrite())
		}
		cl := client(args, opts...)
		target := topic + "-" + codec
		var recs []*kgo.Record
		for i := 0; i < count; i++ {
			recs = append(recs, &kgo.Record{
				Topic: target,
				Key:   []byte(fmt.Sprintf("k%d", i)),
				Value: []byte(fmt.Sprintf("%s record %d %s", codec, i, pad)),
				Headers: []kgo.RecordHeader{
					{Key: "index", Value: []byte(strconv.Itoa(i))},
					{Key: "codec", Value: []byte(codec)},
				},
			})
		}
		var results kgo.ProduceResults
		if sync {
			for _, r := range recs {
				results = append(results, cl.ProduceSync(ctx, r)...)
			}
		} else {
			results = cl.ProduceSync(ctx, recs...)
		}
		cl.Close()
		for _, res := range results {
			if res.Err != nil {
				return res.Err
			}
			emit(map[string]any{"topic": res.Record.Topic, "partition": res.Record.Partition, "offset": res.Record.Offset})
		}
	}
	return nil
}

func recordJSON(r *kgo.Record) map[string]any {
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	return map[string]any{
		"topic": r.Topic, "partition": r.Partition, "offset": r.Offset,
		"key": string(r.Key), "value": string(r.Value), "headers": headers,
	}
}

func consume(ctx context.Context, args map[string]string) error {
	count, _ := strconv.Atoi(need(args, "count"))
	cl := client(args,
		kgo.ConsumerGroup(need(args, "group")),
		kgo.ConsumeTopics(need(args, "topic")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	defer cl.Close()
	seen := 0
	for seen < count {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("cannot consume %d records in 30 s: got %d", count, seen)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetching %s[%d]: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			emit(recordJSON(r))
			seen++
		})
	}
	return cl.CommitUncommittedOffsets(ctx)
}

func member(args map[string]string) error {
	session, _ := strconv.Atoi(need(args, "session"))
	var mu sync.Mutex
	owned := map[int32]bool{}
	report := func() {
		parts := []int32{}
		for p := range owned {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		emit(map[string]any{"assigned": parts})
	}
	change := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					if add {
						owned[p] = true
					} else {
						delete(owned, p)
					}
				}
			}
			if add {
				report()
			}
		}
	}
	cl := client(args,
		kgo.ConsumerGroup(need(args, "group")),
		kgo.ConsumeTopics(need(args, "topic")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(time.Duration(session)*time.Millisecond),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(change(true)),
		kgo.OnPartitionsRevoked(change(false)),
		kgo.OnPartitionsLost(change(false)),
	)
	defer cl.Close()
	for {
		fetches := cl.PollFetches(context.Background())
		fetches.EachRecord(func(r *kgo.Record) { emit(map[string]any{"record": recordJSON(r)}) })
	}
}

func offsets(ctx context.Context, args map[string]string) error {
	topic := need(args, "topic")
	group := need(args, "group")
	cl := client(args)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var toCommit kadm.Offsets
	for _, part := range strings.Split(need(args, "commit"), ",") {
		p, o, _ := strings.Cut(part, ":")
		pi, _ := strconv.Atoi(p)
		oi, _ := strconv.ParseInt(o, 10, 64)
		toCommit.Add(kadm.Offset{Topic: topic, Partition: int32(pi), At: oi, LeaderEpoch: -1, Metadata: "matrix"})
	}
	committed, err := adm.CommitOffsets(ctx, group, toCommit)
	if err != nil {
		return err
	}
	if err := committed.Error(); err != nil {
		return err
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return err
	}
	if err := fetched.Error(); err != nil {
		return err
	}
	got := map[string]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			got[strconv.Itoa(int(o.Partition))] = o.At
		}
	})
	emit(map[string]any{"adminListed": got})
	return nil
}
