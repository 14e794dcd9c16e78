package dev.bulwark.ratelimit;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.StringCodec;
import java.util.Objects;

/** How a Redis limiter opens its connection: to one server or to a cluster. */
abstract class RedisConnector {

  /** One connection and the asynchronous commands on it. */
  record Link(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> commands) {}

  abstract Link connect();

  static RedisConnector of(RedisClient client) {
    Objects.requireNonNull(client, "client");
    return new RedisConnector() {
      @Override
      Link connect() {
        StatefulRedisConnection<String, String> c = client.connect(StringCodec.UTF8);
        return new Link(c, c.async());
      }
    };
  }

  static RedisConnector of(RedisClusterClient client) {
    Objects.requireNonNull(client, "client");
    return new RedisConnector() {
      @Override
      Link connect() {
        StatefulRedisClusterConnection<String, String> c = client.connect(StringCodec.UTF8);
        // A client that rejects commands while disconnected (as Pools' does) rejects the first
        // command for a master whose connection it is still opening: open them all now.
        for (RedisClusterNode node : c.getPartitions()) {
          if (node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.hasNoSlots()) {
            try {
              var unused = c.getConnection(node.getUri().getHost(), node.getUri().getPort());
            } catch (RuntimeException e) {
              // Unreachable now: its decisions follow the failure policy until it is back.
            }
          }
        }
        return new Link(c, c.async());
      }
    };
  }
}
