package swarmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/archwayhq/archway/proxy"
)

// Ports of archway's images.
const (
	AppPort   = 8080
	ProxyPort = 8989
	AdminPort = 8990
)

// Labels the proxy's Swarm provider reads (proxy/swarmprovider; repeated here so the suite
// tests the published contract rather than importing it).
const (
	LabelColor  = "archway.color"
	LabelWeight = "archway.weight"
	LabelPort   = "archway.port"
	LabelGroup  = "archway.group"
)

// Group is a provider group unique to this run and test, so concurrent tests' proxies only
// see their own colours.
func (c *Cluster) Group(t testing.TB) string {
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 30 {
		name = name[:30]
	}
	return c.RunID + "-" + strings.Trim(name, "-")
}

// AppOpts are the spec options of one colour of the demo app: a global service from the
// app index, its container port published in host mode on a port each node picks, and the
// provider labels.
func (c *Cluster) AppOpts(group, colour string, weight int, extra ...ServiceSpecOpt) []ServiceSpecOpt {
	return append([]ServiceSpecOpt{
		WithName(c.Name(group[len(c.RunID)+1:] + "-" + colour)),
		WithImage(c.AppImage),
		WithGlobal(),
		WithHostPort(AppPort, 0),
		WithStopGracePeriod(20 * time.Second),
		WithLabels(map[string]string{
			LabelColor: colour, LabelWeight: strconv.Itoa(weight), LabelPort: strconv.Itoa(AppPort), LabelGroup: group,
		}),
	}, extra...)
}

// Proxy is a deployed archway-proxy in Swarm provider mode.
type Proxy struct {
	Service swarm.Service
	Node    Node
	URL     string // data plane, http://node:port
	Admin   string // admin API
	// Token is the admin token the proxy reads from its secret.
	Token string
}

// DeployProxy runs one archway-proxy replica on a manager as the stack does: as the
// image's non-root user, reading the Swarm through a filtering socket relay of its own
// (DeployRelay) and following only group, its admin API published with a token from a
// Docker secret; it waits until the admin API answers with the token.
func (c *Cluster) DeployProxy(t testing.TB, group string, extra ...ServiceSpecOpt) Proxy {
	t.Helper()
	name := ServiceSpec(append([]ServiceSpecOpt{WithName(c.Name(group[len(c.RunID)+1:] + "-proxy"))}, extra...)...).Annotations.Name
	// The proxy's secret, relay and volume are named after the proxy (a test may run
	// several in one group), short enough for Docker's 63-character names.
	own := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:10]
	secretName := c.Name("admin-token-" + own)
	token, secretID := c.CreateAdminSecret(t, secretName)
	volume := c.Name("relay-" + own)
	c.DeployRelay(t, c.Name("relay-"+own), volume)
	opts := append([]ServiceSpecOpt{
		WithName(c.Name(group[len(c.RunID)+1:] + "-proxy")),
		WithImage(c.ProxyImage),
		WithArgs("-provider", "swarm", "-admin-addr", ":"+strconv.Itoa(AdminPort)),
		WithEnv("PORT="+strconv.Itoa(ProxyPort), "ARCHWAY_SWARM_GROUP="+group, "LOG_LEVEL=debug",
			"DOCKER_HOST=unix://"+relaySocket, "ADMIN_TOKEN_FILE=/run/secrets/"+adminTokenTarget),
		WithSecret(secretID, secretName, adminTokenTarget, ProxyUID),
		WithVolume(volume, relayDir, true),
		WithReplicas(1),
		WithConstraints("node.role==manager"),
		WithHostPort(ProxyPort, 0),
		WithHostPort(AdminPort, 0),
	}, extra...)
	svc := c.CreateService(t, opts...)
	WaitOn(t, "proxy "+svc.Spec.Name+" running", c.RunningTasksCount(svc.ID, 1), c.Timeout(90*time.Second))
	tasks := c.RunningTasks(t, svc.ID)
	data := c.Endpoints(t, svc.ID, ProxyPort)
	admin := c.Endpoints(t, svc.ID, AdminPort)
	if len(tasks) != 1 || len(data) != 1 || len(admin) != 1 {
		t.Fatalf("proxy %s: want one running task with both ports, got %d tasks", svc.Spec.Name, len(tasks))
	}
	p := Proxy{Service: svc, Node: data[0].Node, URL: data[0].URL, Admin: admin[0].URL, Token: token}
	WaitOn(t, "proxy admin API at "+p.Admin, func() Result {
		if _, err := p.Backends(context.Background()); err != nil {
			return Continue("%v", err)
		}
		return Success()
	}, c.Timeout(30*time.Second))
	t.Logf("proxy %s on %s: data %s admin %s", svc.Spec.Name, p.Node, p.URL, p.Admin)
	return p
}

// Backends reads the proxy's current backend set.
func (p Proxy) Backends(ctx context.Context) ([]proxy.BackendView, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Admin+"/backends", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /backends: %s: %s", resp.Status, firstLine(body))
	}
	var out []proxy.BackendView
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /backends: %w", err)
	}
	return out, nil
}

// Put sends PUT /backends/{name} with a raw JSON body and the admin token and returns
// status and body.
func (p Proxy) Put(ctx context.Context, name, body string) (int, string, error) {
	return p.AdminDo(ctx, http.MethodPut, "/backends/"+name, body, p.Token)
}

// AdminDo sends one admin request with token ("" sends no Authorization header) and
// returns status and body.
func (p Proxy) AdminDo(ctx context.Context, method, path, body, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.Admin+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// Summary renders a backend set as "BLUE=4×5 GREEN=1×5" (weight × members).
func Summary(bs []proxy.BackendView) string {
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		parts = append(parts, fmt.Sprintf("%s=%d×%d", strings.ToUpper(b.Name), b.Weight, len(b.Members)))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, " ")
}

// HasBackends is a Check: the proxy's backend set has exactly the given colours with these
// weights, each with members members (0: any number > 0).
func (p Proxy) HasBackends(weights map[string]int, members int) Check {
	return func() Result {
		bs, err := p.Backends(context.Background())
		if err != nil {
			return Continue("%v", err)
		}
		if d := diffBackends(bs, weights, members); d != "" {
			return Continue("backends %s: %s", Summary(bs), d)
		}
		return Success()
	}
}

func diffBackends(bs []proxy.BackendView, weights map[string]int, members int) string {
	seen := map[string]bool{}
	for _, b := range bs {
		name := strings.ToUpper(b.Name)
		seen[name] = true
		w, ok := weights[name]
		switch {
		case !ok:
			return "unexpected colour " + name
		case b.Weight != w:
			return fmt.Sprintf("%s weight %d, want %d", name, b.Weight, w)
		case members > 0 && len(b.Members) != members:
			return fmt.Sprintf("%s has %d members, want %d", name, len(b.Members), members)
		case len(b.Members) == 0:
			return name + " has no members"
		}
	}
	for name := range weights {
		if !seen[name] {
			return "missing colour " + name
		}
	}
	return ""
}
