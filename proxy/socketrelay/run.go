package socketrelay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultUpstream is where the Docker engine listens on a Linux host.
	DefaultUpstream = "/var/run/docker.sock"
	// DefaultListen is the relay's socket: a directory of its own, so that it can be a
	// volume shared with the proxy's container without sharing anything else.
	DefaultListen = "/run/archway/docker.sock"
	// DefaultMode lets the socket's owner and group connect, and no one else.
	DefaultMode fs.FileMode = 0o660
)

// shutdownGrace bounds how long Run waits for requests in flight once ctx ends. They are
// cancelled at once (every allowed call is a read the client repeats), so this is only a
// safety net for a handler that does not notice.
const shutdownGrace = 5 * time.Second

// Config is a relay's settings; the zero value of a field means its default.
type Config struct {
	// Upstream is the engine's socket (default DefaultUpstream).
	Upstream string
	// Listen is where the relay creates its socket (default DefaultListen). A stale socket
	// there is replaced; any other file is an error.
	Listen string
	// SocketUID and SocketGID own the relay's socket; -1 leaves the creator's. Note that 0
	// is root, not "unset": the archway-proxy relay command defaults both to 65532, the
	// user the proxy image runs as.
	SocketUID, SocketGID int
	// Mode is the socket's permission bits (default DefaultMode). Connecting to a unix
	// socket needs write permission on it.
	Mode fs.FileMode
	// Logger receives the start and stop lines and one line per refused request
	// (nil: slog.Default()).
	Logger *slog.Logger
}

// withDefaults fills the zero fields and reports the first bad one, naming it and its value.
func (c Config) withDefaults() (Config, error) {
	if c.Upstream == "" {
		c.Upstream = DefaultUpstream
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Mode == 0 {
		c.Mode = DefaultMode
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for _, s := range []struct{ name, path string }{{"upstream", c.Upstream}, {"listen", c.Listen}} {
		if len(s.path) > maxSocketPath {
			return c, fmt.Errorf("socketrelay: %s %q: a socket path is at most %d bytes", s.name, s.path, maxSocketPath)
		}
	}
	if c.Mode&^fs.ModePerm != 0 {
		return c, fmt.Errorf("socketrelay: mode %#o: want permission bits only (at most 0777)", uint32(c.Mode))
	}
	if c.SocketUID < -1 || c.SocketGID < -1 {
		return c, fmt.Errorf("socketrelay: socket owner %d:%d: want ids >= 0, or -1 to leave one", c.SocketUID, c.SocketGID)
	}
	return c, nil
}

// Run is the relay: it checks that the engine at cfg.Upstream answers, creates the socket
// at cfg.Listen (replacing a stale one), serves Handler on it until ctx ends, then removes
// the socket and returns nil. Any failure to start is returned, naming the setting.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	log := cfg.Logger
	upstream := UnixTransport(cfg.Upstream)
	defer upstream.CloseIdleConnections()
	if err := ping(ctx, upstream); err != nil {
		return fmt.Errorf("socketrelay: upstream %q: the engine does not answer: %w", cfg.Upstream, err)
	}
	if err := clearStale(cfg.Listen); err != nil {
		return fmt.Errorf("socketrelay: listen %q: %w", cfg.Listen, err)
	}
	ln, err := listen(cfg.Listen, cfg.SocketUID, cfg.SocketGID, cfg.Mode)
	if err != nil {
		return fmt.Errorf("socketrelay: listen %q: %w", cfg.Listen, err)
	}
	// Closing the listener (Shutdown, Close) unlinks the socket: net.ListenUnix created it.

	srv := &http.Server{
		Handler: Handler(upstream, log),
		// Requests in flight end with ctx: an event stream would otherwise hold Shutdown
		// until shutdownGrace for nothing.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// The allowed calls have short heads; a large one is not a Docker client.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// No WriteTimeout: /events is a stream that lasts as long as its client wants.
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("socket relay listening", "listen", cfg.Listen, "upstream", cfg.Upstream,
		"uid", cfg.SocketUID, "gid", cfg.SocketGID, "mode", fmt.Sprintf("%04o", uint32(cfg.Mode)),
		"allowed", AllowList())

	select {
	case err := <-served:
		ln.Close()
		return fmt.Errorf("socketrelay: serve %q: %w", cfg.Listen, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("socket relay: serve ended with an error", "err", err)
	}
	log.Info("socket relay stopped", "listen", cfg.Listen)
	return nil
}
