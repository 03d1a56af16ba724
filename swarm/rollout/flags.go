package rollout

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/archwayhq/archway/swarm/lab/lab"
)

// Flags are the settings the Swarm commands (demo, release) share, defined once: which
// stack and group, where the proxy, its admin API and its token are, the key images
// must verify with, and the bound on each wait.
type Flags struct {
	Stack, Group       string
	AdminTokenFile     string
	VerifyKey          string // "" skips the signature check
	ProxyURL, AdminURL string
	Timeout            time.Duration
}

// PipelineKey is -verify-key's default: the public key the pipeline signs with,
// $ARCHWAY_HOME/signing/cosign.pub (Resolve puts the path there).
const PipelineKey = "pipeline"

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Stack, "stack", "archway", "stack name (services <stack>_blue, _green, _proxy)")
	fs.StringVar(&f.Group, "group", "", "archway.group label of the colour services (default: the stack name)")
	fs.StringVar(&f.AdminTokenFile, "admin-token-file", os.Getenv("ARCHWAY_ADMIN_TOKEN_FILE"), "the proxy's admin token (env ARCHWAY_ADMIN_TOKEN_FILE; default $ARCHWAY_HOME/admin.token; demo deploy creates it with a random token)")
	f.VerifyKey = PipelineKey
	if v, ok := os.LookupEnv("ARCHWAY_VERIFY_KEY"); ok {
		f.VerifyKey = v
	}
	fs.StringVar(&f.VerifyKey, "verify-key", f.VerifyKey, `public key the images' signatures must verify with before anything is deployed (env ARCHWAY_VERIFY_KEY; "" skips the check, pipeline is $ARCHWAY_HOME/signing/cosign.pub)`)
	fs.StringVar(&f.ProxyURL, "proxy-url", "", "proxy URL (default: found from the proxy task)")
	fs.StringVar(&f.AdminURL, "admin-url", "", "proxy admin URL (default: found from the proxy task)")
	fs.DurationVar(&f.Timeout, "timeout", 5*time.Minute, "bound for each wait on the cluster (deploy, smoke test, weights)")
}

// Resolve fills the defaults that depend on others or on $ARCHWAY_HOME, after parsing,
// and checks the values; errors name the flag and the value.
func (f *Flags) Resolve() error {
	if !stackName.MatchString(f.Stack) {
		// An empty stack would also make an empty group, which selects every archway
		// service of the cluster, other stacks' included.
		return fmt.Errorf("-stack=%q: want a stack name like archway (letters, digits, _ . -)", f.Stack)
	}
	if f.Group == "" {
		f.Group = f.Stack
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("-timeout=%s: want a positive duration", f.Timeout)
	}
	for _, u := range []struct{ flag, value string }{{"-proxy-url", f.ProxyURL}, {"-admin-url", f.AdminURL}} {
		if err := checkBaseURL(u.value); err != nil {
			return fmt.Errorf("%s=%q: %v", u.flag, u.value, err)
		}
	}
	home, err := lab.Home()
	if err != nil {
		return err
	}
	if f.AdminTokenFile == "" {
		f.AdminTokenFile = filepath.Join(home, "admin.token")
	}
	if f.VerifyKey == PipelineKey {
		f.VerifyKey = filepath.Join(home, "signing", "cosign.pub")
	}
	return nil
}

// Session is an operator's session on api with these flags (the admin token is read
// separately: not every command needs it), printing to out.
func (f Flags) Session(api ClusterAPI, out io.Writer, tls bool) *Session {
	return &Session{
		API: api, HTTP: &http.Client{Timeout: 10 * time.Second}, Group: f.Group, Stack: f.Stack,
		ProxyURL: f.ProxyURL, AdminURL: f.AdminURL, Out: out, Timeout: f.Timeout, TLS: tls,
	}
}

// stackName is what docker stack deploy accepts as a name, and a group label can hold.
var stackName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// checkBaseURL accepts "" (found from the proxy task) or an http(s) URL with a host
// and nothing after the path.
func checkBaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("missing host; want http://host:port")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("want scheme://host:port only, no user info, query or fragment")
	}
	return nil
}
