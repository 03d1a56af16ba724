package tlsterm

import (
	"context"
	"time"
)

// Watch reloads the pair whenever either file changes, checking every interval, until
// ctx ends; interval <= 0 disables it (Watch returns at once).
//
// It polls with os.Stat rather than waiting on inotify (fsnotify): inotify events do
// not cross Docker Desktop's file sharing, a watch on the file itself goes quiet once
// the file is replaced by rename (atomic writers, the Kubernetes "..data" symlink
// swap) unless its directory is watched and events filtered, and stat on two files
// every few seconds costs nothing, needs no dependency and works in all these cases.
//
// A change seen while the pair is being replaced (the new certificate, the old key)
// fails to load and the old pair keeps serving; a failed load is retried on every
// poll, logged once per distinct error, until one succeeds, so the pair is picked up
// as soon as it is whole even if its last write kept the stamp unchanged.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.poll()
		}
	}
}

// poll reloads if the files changed since the last load or that load failed.
func (s *Store) poll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stamps(); st != s.seen || s.lastErr != "" {
		_ = s.reloadLocked(st, false)
	}
}
