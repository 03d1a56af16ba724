package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/archwayhq/archway/internal/server"
)

// DefaultPort is sillyproxy's myapp port, kept so existing stacks need no change.
const DefaultPort = 8080

// Defaults for the shutdown sequence. Together they stay under Docker's default
// 10s stop grace period, so SIGKILL never cuts a drain short.
const (
	DefaultDrain           = 3 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Config is the validated configuration of archway-app.
type Config struct {
	// Addr is the listen address, ":<port>".
	Addr string
	// V2 switches GET / from the text line to the HTML page (the seed's feature switch).
	V2 bool
	// Drain is how long /readyz fails before the listener closes on SIGTERM.
	Drain time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests after the drain.
	ShutdownTimeout time.Duration
	// ShowVersion asks main to print the version and exit.
	ShowVersion bool
	// Faults are the injected faults (FAIL_RATE, FAIL_STATUS, FAIL_PLATFORM, DELAY,
	// DELAY_PLATFORM), before the platform limits are applied.
	Faults Faults
	// Release is ARCHWAY_RELEASE, reported in /api/info so a deploying tool can tell
	// which release a task answers with.
	Release string
}

// ParseConfig reads flags from args and the environment through getenv. Flags win
// over the environment. Every error names the setting and the bad value on one line.
// For -h it writes the usage to usage and returns flag.ErrHelp.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("archway-app", flag.ContinueOnError)
	// Silence flag's own "error + full usage" output: the caller prints one line.
	fs.SetOutput(io.Discard)
	port := fs.String("port", "", "listen port 1-65535 (env PORT, default 8080)")
	drain := fs.String("drain", "", "how long /readyz fails before closing on SIGTERM, e.g. 3s (env DRAIN, default 3s)")
	shutdown := fs.Duration("shutdown-timeout", DefaultShutdownTimeout, "bound on waiting for in-flight requests after the drain")
	showVersion := fs.Bool("version", false, "print version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(usage)
			fmt.Fprintln(usage, "Usage: archway-app [flags]  (env: PORT, V2, DRAIN, FAIL_RATE, FAIL_STATUS, FAIL_PLATFORM, DELAY, DELAY_PLATFORM, ARCHWAY_RELEASE)")
			fs.PrintDefaults()
		}
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: archway-app takes flags only", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := Config{ShowVersion: *showVersion, ShutdownTimeout: *shutdown}
	var err error
	if cfg.Addr, err = server.ResolvePort(*port, set["port"], getenv("PORT"), DefaultPort); err != nil {
		return Config{}, err
	}
	if cfg.V2, err = ParseV2(getenv("V2")); err != nil {
		return Config{}, err
	}
	if cfg.Drain, err = resolveDrain(*drain, set["drain"], getenv("DRAIN")); err != nil {
		return Config{}, err
	}
	if cfg.ShutdownTimeout <= 0 {
		return Config{}, fmt.Errorf("-shutdown-timeout=%s: want a positive duration", cfg.ShutdownTimeout)
	}
	if cfg.Faults, err = ParseFaults(getenv); err != nil {
		return Config{}, err
	}
	if cfg.Release, err = ParseRelease(getenv("ARCHWAY_RELEASE")); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParseV2 interprets the V2 feature switch with strconv.ParseBool after trimming
// spaces: 1, t, true, TRUE, True turn it on; 0, f, false, FALSE, False and the empty
// string (unset, as in the seed) leave it off. Anything else is an error rather than
// a guess, so a typo like V2=yes does not silently ship v1.
func ParseV2(raw string) (bool, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("V2=%q: want 1/true or 0/false (empty means false)", raw)
	}
	return v, nil
}

// resolveDrain applies the flag-over-env precedence to the drain duration.
func resolveDrain(flagValue string, flagSet bool, env string) (time.Duration, error) {
	setting, raw := "-drain", flagValue
	if !flagSet {
		setting, raw = "DRAIN", env
	}
	raw = strings.TrimSpace(raw)
	if raw == "" && !flagSet {
		return DefaultDrain, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration ≥ 0 such as 3s or 500ms", setting, raw)
	}
	return d, nil
}
