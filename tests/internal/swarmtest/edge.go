package swarmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// What the stack gives the proxy (swarm/stack.yml): the admin token as a secret file and
// the relay's filtered Docker socket in a volume, instead of the engine's socket.
const (
	adminTokenTarget = "archway_admin_token"
	relayDir         = "/run/archway-relay"
	relaySocket      = relayDir + "/docker.sock"
	// ProxyUID is the image's non-root user, which the proxy runs as.
	ProxyUID = "65532"
)

// WithSecret gives the task a Docker secret as /run/secrets/<target>, owned by uid
// and readable by it only.
func WithSecret(id, name, target, uid string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		c := containerSpec(s)
		c.Secrets = append(c.Secrets, &swarm.SecretReference{SecretID: id, SecretName: name,
			File: &swarm.SecretReferenceFileTarget{Name: target, UID: uid, GID: uid, Mode: 0o400}})
	}
}

// WithVolume mounts the node-local named volume source at target.
func WithVolume(source, target string, readOnly bool) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		c := containerSpec(s)
		c.Mounts = append(c.Mounts, mount.Mount{Type: mount.TypeVolume, Source: source, Target: target, ReadOnly: readOnly})
	}
}

// CreateAdminSecret creates a secret holding a fresh random admin token (removed at
// cleanup) and returns the token and the secret's ID.
func (c *Cluster) CreateAdminSecret(t testing.TB, name string) (token, id string) {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	token = hex.EncodeToString(b[:])
	return token, c.CreateSecret(t, name, []byte(token+"\n"))
}

// WithTLSSecrets gives the proxy its certificate and key from two secrets
// (TLS_CERT_FILE, TLS_KEY_FILE): the data port then serves HTTPS.
func WithTLSSecrets(certID, certName, keyID, keyName string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		WithSecret(certID, certName, "archway_tls_cert", ProxyUID)(s)
		WithSecret(keyID, keyName, "archway_tls_key", ProxyUID)(s)
		WithEnv("TLS_CERT_FILE=/run/secrets/archway_tls_cert", "TLS_KEY_FILE=/run/secrets/archway_tls_key")(s)
	}
}

// CreateSecret creates a Docker secret (removed at cleanup) and returns its ID.
func (c *Cluster) CreateSecret(t testing.TB, name string, data []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Client.SecretCreate(ctx, swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{LabelRun: c.RunID}},
		Data:        data,
	})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Client.SecretRemove(ctx, resp.ID); err != nil && !isNotFound(err) {
			t.Logf("cleanup: remove secret %s: %v", name, err)
		}
	})
	return resp.ID
}

// DeployRelay runs the filtering Docker socket relay (archway-proxy relay, from the
// proxy image) on the managers with the engine's socket, serving the filtered one in
// the named volume, and waits until it runs. The volume is removed at cleanup.
func (c *Cluster) DeployRelay(t testing.TB, name, volume string) swarm.Service {
	t.Helper()
	t.Cleanup(func() { c.removeVolume(t, volume) })
	svc := c.CreateService(t,
		WithName(name),
		WithImage(c.ProxyImage),
		WithArgs("relay", "-listen", relaySocket, "-socket-uid", ProxyUID, "-socket-gid", ProxyUID),
		// Root, to open the engine's socket; it runs nothing else.
		WithUser("0:0"),
		WithDockerSocket(),
		WithVolume(volume, relayDir, false),
		WithConstraints("node.role==manager"),
		WithGlobal(),
	)
	WaitOn(t, "relay "+name+" running", c.RunningTasksCount(svc.ID, len(c.managers())), c.Timeout(90*time.Second))
	return svc
}

// removeVolume removes a node-local volume on the manager once the tasks that used it
// are gone (their containers go shortly after the service).
func (c *Cluster) removeVolume(t testing.TB, name string) {
	t.Helper()
	_, err := waitOn("volume "+name+" removed", func() Result {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Client.VolumeRemove(ctx, name, false); err != nil && !isNotFound(err) {
			return Continue("%v", err)
		}
		return Success()
	}, c.Timeout(30*time.Second), time.Second)
	if err != nil {
		t.Logf("cleanup: %v", err)
	}
}

func (c *Cluster) managers() []Node {
	var out []Node
	for _, n := range c.NodeList() {
		if n.Manager {
			out = append(out, n)
		}
	}
	return out
}
