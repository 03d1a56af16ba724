// Package rollout drives a deployed archway stack the way an operator does: deploy the
// stack, wait until every global service runs on every node, shift weights between
// colours with service labels (canary, promote, rollback), and measure what the proxy
// actually does with a sample of requests and a steady background load.
//
// The Swarm provider in proxy/swarmprovider turns the labels into backends; this package
// only writes labels and reads what comes out, so it works the same on the lab and on a
// real cluster behind DOCKER_HOST.
package rollout
