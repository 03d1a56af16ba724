// Package delivery is progressive delivery on Docker Swarm: a release deploys a new image
// to the idle colour, steps its weight through a plan, judges it at every step from the
// proxy's own statistics — per colour and per CPU architecture — and either promotes it
// or puts the stable colour back in charge at once.
//
// Everything it knows lives in the Swarm: weights are the archway.weight labels the
// proxy's Swarm provider follows, and the release's state (plan, step, roles, verdicts,
// owner, heartbeat) is the JSON value of the archway.release label on the canary's
// service. So `status` works from any machine, a second `release` sees the first, and a
// release that was killed is continued or undone by the next command — while the proxy,
// which reads the same label, stops sending users to a canary whose heartbeat went
// stale.
//
// The steps of a release, each a function of its own: preflight (plan, image, lock),
// deploy (image and release id on the idle colour, every node running it), smoke
// (every architecture answers through the proxy's override header before any user
// does), step (weights, window, judgement; repeated), promote or abort.
package delivery
