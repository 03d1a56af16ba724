// Package accesslog is the access log's sink: an io.Writer that queues each record in
// memory and writes the queue from one goroutine. An event loop that logs a request
// must never wait for its output: stdout in a container is a pipe to Docker's log
// driver, and a full pipe would stall every connection on the loop (nginx blocks its
// worker there; Envoy queues, as here). When the queue is full a record is dropped and
// counted, never waited for.
package accesslog

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of NewWriter.
const (
	// DefaultMaxPending bounds the queued bytes (about 4 000 records of 250 bytes).
	DefaultMaxPending = 1 << 20
	// DefaultFlushEvery is the longest a record waits in the queue.
	DefaultFlushEvery = 100 * time.Millisecond
	// flushAt wakes the writer before DefaultFlushEvery once this much is queued.
	flushAt = 64 << 10
)

// Writer queues records for one destination. Each Write is one record (a slog
// handler writes each record with one call). Create it with NewWriter; Close flushes
// and stops it.
type Writer struct {
	dst        io.Writer
	maxPending int
	every      time.Duration

	mu     sync.Mutex
	buf    []byte
	closed bool

	dropped atomic.Uint64
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// NewWriter starts a writer to dst that holds at most maxPending queued bytes
// (DefaultMaxPending when 0) and writes them at least every every
// (DefaultFlushEvery when 0).
func NewWriter(dst io.Writer, maxPending int, every time.Duration) *Writer {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	if every <= 0 {
		every = DefaultFlushEvery
	}
	w := &Writer{dst: dst, maxPending: maxPending, every: every,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Write queues one record. It never blocks on the destination and never fails: a
// record that does not fit, or arrives after Close, is counted in Dropped.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed || len(w.buf)+len(p) > w.maxPending {
		w.mu.Unlock()
		w.dropped.Add(1)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= flushAt
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Dropped is the number of records not written: the queue was full, the writer was
// closed, or the destination refused them.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Close writes what is queued and stops the writer; later records are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	var spare []byte
	for {
		stopping := false
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			stopping = true
		}
		spare = w.flush(spare)
		if stopping {
			return
		}
	}
}

// flush swaps the queue for spare and writes it outside the lock, so that records
// keep arriving while the destination is slow; it returns the emptied buffer.
func (w *Writer) flush(spare []byte) []byte {
	w.mu.Lock()
	batch := w.buf
	w.buf = spare[:0]
	w.mu.Unlock()
	if len(batch) == 0 {
		return batch
	}
	n, err := w.dst.Write(batch)
	if err != nil {
		// What did not go out is lost: count its records (one per line).
		w.dropped.Add(uint64(bytes.Count(batch[min(max(n, 0), len(batch)):], []byte{'\n'})))
	}
	return batch[:0]
}
