// Package accesslog writes archway-proxy's access log: entries are queued in memory,
// then formatted (log/slog, text or JSON) and written by one goroutine. An event loop
// that logs a request must not wait for its output, nor spend its turn formatting:
// stdout in a container is a pipe to Docker's log driver, and a full pipe would stall
// every connection on the loop (nginx blocks its worker there; Envoy queues, as here),
// while the formatting runs on whichever CPU the loop leaves idle. When the queue is
// full an entry is dropped and counted, never waited for.
package accesslog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of New.
const (
	// DefaultMaxPending bounds the queued entries (about 1 MiB of lines).
	DefaultMaxPending = 4096
	// DefaultFlushEvery is the longest an entry waits in the queue.
	DefaultFlushEvery = 100 * time.Millisecond
	// flushAt wakes the writer before DefaultFlushEvery once this many are queued.
	flushAt = 256
)

// Entry is one line of the access log (its fields are named in Log.format).
type Entry struct {
	Time     time.Time
	Client   string
	Method   string
	Target   string
	Status   int
	Bytes    int64
	Duration time.Duration
	Color    string
	Member   string
	Attempts int
	Fault    string
	Engine   string
}

// Log queues entries for one destination. Create it with New; Close writes what is
// queued and stops it.
type Log struct {
	dst        io.Writer
	maxPending int
	every      time.Duration
	handler    slog.Handler // over out: used by the writer goroutine alone
	out        bytes.Buffer

	mu     sync.Mutex
	queue  []Entry
	closed bool

	dropped atomic.Uint64
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// New starts a log to dst in format ("json", else text) that holds at most
// maxPending entries (DefaultMaxPending when 0) and writes them at least every
// every (DefaultFlushEvery when 0).
func New(dst io.Writer, format string, maxPending int, every time.Duration) *Log {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	if every <= 0 {
		every = DefaultFlushEvery
	}
	l := &Log{dst: dst, maxPending: maxPending, every: every,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	// Every line, whatever LOG_LEVEL says: an operator who turns the log on wants them.
	if format == "json" {
		l.handler = slog.NewJSONHandler(&l.out, nil)
	} else {
		l.handler = slog.NewTextHandler(&l.out, nil)
	}
	go l.run()
	return l
}

// Add queues a copy of e. It never blocks on the destination: an entry that does not
// fit, or arrives after Close, is counted in Dropped.
func (l *Log) Add(e *Entry) {
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.maxPending {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.queue = append(l.queue, *e)
	full := len(l.queue) >= flushAt
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped is the number of entries not written: the queue was full, the log was
// closed, or the destination refused their lines.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Close writes what is queued and stops the log; later entries are dropped.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return nil
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	var spare []Entry
	for {
		stopping := false
		select {
		case <-t.C:
		case <-l.kick:
		case <-l.stop:
			stopping = true
		}
		spare = l.flush(spare)
		if stopping {
			return
		}
	}
}

// flush swaps the queue for spare, formats the batch and writes it outside the lock,
// so that entries keep arriving while the destination is slow; it returns the
// emptied batch for the next swap.
func (l *Log) flush(spare []Entry) []Entry {
	l.mu.Lock()
	batch := l.queue
	l.queue = spare[:0]
	l.mu.Unlock()
	if len(batch) == 0 {
		return batch
	}
	l.out.Reset()
	for i := range batch {
		l.format(&batch[i])
	}
	clear(batch) // drop the strings until the slice is filled again
	data := l.out.Bytes()
	n, err := l.dst.Write(data)
	if err != nil {
		// What did not go out is lost: count its lines.
		l.dropped.Add(uint64(bytes.Count(data[min(max(n, 0), len(data)):], []byte{'\n'})))
	}
	return batch[:0]
}

// format appends e's line to l.out: the one place the access log's fields are named.
func (l *Log) format(e *Entry) {
	r := slog.NewRecord(e.Time, slog.LevelInfo, "access", 0)
	r.AddAttrs(
		slog.String("client", e.Client),
		slog.String("method", e.Method),
		slog.String("target", e.Target),
		slog.Int("status", e.Status),
		slog.Int64("bytes", e.Bytes),
		slog.Float64("duration_ms", float64(e.Duration.Microseconds())/1000),
		slog.String("color", e.Color),
		slog.String("member", e.Member),
		slog.Int("attempts", e.Attempts),
		slog.String("fault", e.Fault),
		slog.String("engine", e.Engine),
	)
	_ = l.handler.Handle(context.Background(), r) // writes to a bytes.Buffer: no error
}
