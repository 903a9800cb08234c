package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestCapForFillsSmallPartitionsFirst(t *testing.T) {
	parts := []partSize{{bytes: 10}, {bytes: 100}, {bytes: 1000}}
	for _, c := range []struct{ total, want int64 }{{1110, 1000}, {300, 190}, {30, 10}, {0, 0}} {
		if got := capFor(parts, c.total); got != c.want {
			t.Errorf("capFor(%d) = %d, want %d", c.total, got, c.want)
		}
	}
}

// Producing four times the budget leaves the broker holding no more than the budget, the newest
// records still readable.
func TestMemoryBudgetDropsOldestRecords(t *testing.T) {
	const budget = 4 << 20
	b, err := Start(Config{Addr: "127.0.0.1:0", MemoryBudget: budget, DefaultPartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "eeg", BatchSize: 16, BatchTimeout: time.Millisecond,
		AllowAutoTopicCreation: true, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	value := bytes.Repeat([]byte{7}, 16<<10)
	var last string
	for i := 0; i < 4*budget/len(value); i++ {
		last = fmt.Sprintf("k%05d", i)
		msg := kafka.Message{Key: []byte(last), Value: value}
		for attempt := 0; ; attempt++ { // the first writes may race topic auto-creation
			if err = w.WriteMessages(ctx, msg); err == nil || attempt == 20 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Trimming runs once a second: wait until it dropped what exceeds the budget (the sizes it
	// counts include the batches' framing, so at least the values beyond it).
	for b.HeldBytes() == 0 || b.HeldBytes() > budget || b.TrimmedBytes() < 4*budget-budget-budget/4 {
		select {
		case <-ctx.Done():
			t.Fatalf("broker holds %d bytes and trimmed %d of %d produced, budget %d", b.HeldBytes(), b.TrimmedBytes(), 4*budget, budget)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The newest record is still there, in whichever partition its key went to.
	found := false
	for p := 0; p < 2 && !found; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: "eeg", Partition: p, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			t.Fatal(err)
		}
		lag, err := r.ReadLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for ; lag > 0; lag-- {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found = found || string(m.Key) == last
		}
		r.Close()
	}
	if !found {
		t.Errorf("the newest record (%s) was dropped", last)
	}
}
