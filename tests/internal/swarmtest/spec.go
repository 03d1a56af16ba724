package swarmtest

import (
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// ServiceSpecOpt modifies a service spec, as in moby's integration/internal/swarm.
type ServiceSpecOpt func(*swarm.ServiceSpec)

// ServiceSpec builds a spec: one replica, a restart policy that does not hammer a broken
// image, then opts in order.
func ServiceSpec(opts ...ServiceSpecOpt) swarm.ServiceSpec {
	var spec swarm.ServiceSpec
	WithReplicas(1)(&spec)
	delay := time.Second
	spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay}
	for _, o := range opts {
		o(&spec)
	}
	return spec
}

// WithName sets the service name.
func WithName(name string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { s.Annotations.Name = name }
}

// WithImage sets the image reference (an index reference: Swarm resolves it per node).
func WithImage(image string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { containerSpec(s).Image = image }
}

// WithArgs sets the arguments passed to the image's entrypoint.
func WithArgs(args ...string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { containerSpec(s).Args = args }
}

// WithUser sets the user the container runs as ("0:0", "65532").
func WithUser(user string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { containerSpec(s).User = user }
}

// WithEnv adds KEY=VALUE environment entries.
func WithEnv(kv ...string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { c := containerSpec(s); c.Env = append(c.Env, kv...) }
}

// WithLabels adds service labels (the ones the Swarm provider reads).
func WithLabels(labels map[string]string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		if s.Annotations.Labels == nil {
			s.Annotations.Labels = map[string]string{}
		}
		for k, v := range labels {
			s.Annotations.Labels[k] = v
		}
	}
}

// WithGlobal makes the service global: one task per eligible node.
func WithGlobal() ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}} }
}

// WithReplicas makes the service replicated with n tasks.
func WithReplicas(n uint64) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		s.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}
	}
}

// WithHostPort publishes container port target in host mode (no routing mesh: this kernel
// has no IPVS). published 0 lets each node's engine pick a free port, which the task status
// reports: runs sharing a cluster never collide, and start-first updates can overlap.
func WithHostPort(target, published uint32) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		if s.EndpointSpec == nil {
			s.EndpointSpec = &swarm.EndpointSpec{}
		}
		s.EndpointSpec.Ports = append(s.EndpointSpec.Ports, swarm.PortConfig{
			Protocol: swarm.PortConfigProtocolTCP, TargetPort: target, PublishedPort: published,
			PublishMode: swarm.PortConfigPublishModeHost,
		})
	}
}

// WithConstraints adds placement constraints such as "node.role==manager".
func WithConstraints(c ...string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		p := placement(s)
		p.Constraints = append(p.Constraints, c...)
	}
}

// WithDockerSocket bind-mounts the node engine's socket read-only (the proxy's Swarm
// provider reads the cluster through its manager).
func WithDockerSocket() ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		c := containerSpec(s)
		c.Mounts = append(c.Mounts, mount.Mount{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true})
	}
}

// WithUpdateConfig sets rolling-update behaviour: parallelism, delay, order
// (swarm.UpdateOrderStartFirst or StopFirst).
func WithUpdateConfig(parallelism uint64, delay time.Duration, order string) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		s.UpdateConfig = &swarm.UpdateConfig{Parallelism: parallelism, Delay: delay, Order: order,
			FailureAction: swarm.UpdateFailureActionPause, Monitor: 5 * time.Second}
	}
}

// WithStopGracePeriod bounds how long a stopping task may drain.
func WithStopGracePeriod(d time.Duration) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) { containerSpec(s).StopGracePeriod = &d }
}

// WithRestartDelay sets the delay between restarts of a failing task.
func WithRestartDelay(d time.Duration) ServiceSpecOpt {
	return func(s *swarm.ServiceSpec) {
		if s.TaskTemplate.RestartPolicy == nil {
			s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}
		}
		s.TaskTemplate.RestartPolicy.Delay = &d
	}
}

func containerSpec(s *swarm.ServiceSpec) *swarm.ContainerSpec {
	if s.TaskTemplate.ContainerSpec == nil {
		s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
	}
	return s.TaskTemplate.ContainerSpec
}

func placement(s *swarm.ServiceSpec) *swarm.Placement {
	if s.TaskTemplate.Placement == nil {
		s.TaskTemplate.Placement = &swarm.Placement{}
	}
	return s.TaskTemplate.Placement
}
