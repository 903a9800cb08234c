package broker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// budget is the broker's memory budget and what enforcing it has done.
type budget struct {
	topics   sync.Map     // topic name -> struct{}: every topic produced to (only those hold records)
	topicIDs sync.Map     // topic id -> struct{}: the same, from clients that name topics by id
	limit    int64        // record bytes across all partitions; <= 0: none
	held     atomic.Int64 // record bytes held at the last look
	trimmed  atomic.Int64 // record bytes dropped to stay within the limit
	records  atomic.Int64 // records dropped to stay within the limit
}

// budgetInterval is how often the partitions' sizes are summed.
const budgetInterval = time.Second

// HeldBytes is the record bytes the broker's partitions held at the last look (once a second while a
// memory budget is set).
func (b *Broker) HeldBytes() int64 { return b.budget.held.Load() }

// TrimmedBytes is the record bytes dropped so far to keep within the memory budget.
func (b *Broker) TrimmedBytes() int64 { return b.budget.trimmed.Load() }

// RegisterMetrics exports the broker's memory budget, the bytes it holds and what it dropped to keep
// within it.
func (b *Broker) RegisterMetrics(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neurostream_broker_budget_bytes",
			Help: "Memory budget of the embedded broker: record bytes it holds across all partitions at most (0: none)."},
			func() float64 { return float64(max(b.budget.limit, 0)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "neurostream_broker_held_bytes",
			Help: "Record bytes the embedded broker's partitions hold."},
			func() float64 { return float64(b.budget.held.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "neurostream_broker_trimmed_bytes_total",
			Help: "Record bytes the embedded broker dropped, oldest first, to stay within its memory budget."},
			func() float64 { return float64(b.budget.trimmed.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "neurostream_broker_trimmed_records_total",
			Help: "Records the embedded broker dropped, oldest first, to stay within its memory budget."},
			func() float64 { return float64(b.budget.records.Load()) }),
	} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// watchTopics notes the topics clients create or name in metadata requests (every topic that can
// hold records was one or the other first: kfake creates topics only on CreateTopics or on a
// metadata request that allows auto-creation). It used to watch every produce request, but kfake
// runs each control function in a goroutine of its own while its event loop waits for it: a
// goroutine and two hand-offs in the broker's one loop for every produce.
func (g *budget) watchTopics(c *kfake.Cluster) {
	note := func(name *string, id [16]byte) {
		if name != nil && *name != "" {
			if _, seen := g.topics.Load(*name); !seen {
				g.topics.Store(*name, struct{}{})
			}
		} else if id != ([16]byte{}) {
			if _, seen := g.topicIDs.Load(id); !seen {
				g.topicIDs.Store(id, struct{}{})
			}
		}
	}
	c.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if cr, ok := req.(*kmsg.CreateTopicsRequest); ok {
			for i := range cr.Topics {
				note(&cr.Topics[i].Topic, [16]byte{})
			}
		}
		return nil, nil, false // observed only: the cluster handles the request as usual
	})
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if mr, ok := req.(*kmsg.MetadataRequest); ok {
			for i := range mr.Topics {
				note(mr.Topics[i].Topic, mr.Topics[i].TopicID)
			}
		}
		return nil, nil, false
	})
}

func (b *Broker) enforceBudget() {
	t := time.NewTicker(budgetInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.trimToBudget()
	}
}

// topicNames returns every topic produced to so far.
func (g *budget) topicNames(c *kfake.Cluster) []string {
	var names []string
	g.topicIDs.Range(func(k, _ any) bool {
		if ti := c.TopicIDInfo(k.([16]byte)); ti != nil {
			g.topics.Store(ti.Topic, struct{}{})
			g.topicIDs.Delete(k)
		}
		return true
	})
	g.topics.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	return names
}

// partSize is one partition's size and offsets at a look.
type partSize struct {
	topic               string
	partition           int32
	bytes               int64
	logStart, highWater int64
}

// trimToBudget sums the partitions' sizes and, over the budget, drops the oldest records of the
// largest trimmable partitions until they fit three quarters of it.
func (b *Broker) trimToBudget() {
	names := b.budget.topicNames(b.cluster)
	var parts []partSize
	var held, fixed int64
	for _, name := range names {
		compacted := false
		if ti := b.cluster.TopicInfo(name); ti != nil {
			if v := ti.Configs["cleanup.policy"]; v != nil && *v == "compact" {
				compacted = true
			}
		}
		for _, p := range b.cluster.PartitionInfos(name) {
			held += p.NumBytes
			if compacted {
				fixed += p.NumBytes
				continue
			}
			parts = append(parts, partSize{name, p.Partition, p.NumBytes, p.LogStartOffset, p.HighWatermark})
		}
	}
	b.budget.held.Store(held)
	if held <= b.budget.limit || len(parts) == 0 {
		return
	}
	limit := capFor(parts, b.budget.limit*3/4-fixed)
	for _, p := range parts {
		n := p.highWater - p.logStart
		if p.bytes <= limit || n <= 0 {
			continue
		}
		perRecord := float64(p.bytes) / float64(n)
		keep := int64(float64(limit) / perRecord)
		start := p.highWater - keep
		if start <= p.logStart {
			continue
		}
		if err := b.cluster.DeleteRecords(p.topic, p.partition, start); err != nil {
			continue
		}
		b.budget.records.Add(start - p.logStart)
		b.budget.trimmed.Add(int64(float64(start-p.logStart) * perRecord))
	}
	var after int64
	for _, name := range names {
		for _, p := range b.cluster.PartitionInfos(name) {
			after += p.NumBytes
		}
	}
	b.budget.held.Store(after)
}

// capFor returns the largest per-partition size c such that the partitions, each cut to c, hold at
// most total bytes (water filling: small partitions keep everything, large ones share the rest).
func capFor(parts []partSize, total int64) int64 {
	if total <= 0 {
		return 0
	}
	sizes := make([]int64, len(parts))
	for i, p := range parts {
		sizes[i] = p.bytes
	}
	slices.Sort(sizes)
	left := total
	for i, s := range sizes {
		share := left / int64(len(sizes)-i)
		if s > share {
			return share
		}
		left -= s
	}
	return sizes[len(sizes)-1]
}
