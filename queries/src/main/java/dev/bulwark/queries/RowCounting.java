package dev.bulwark.queries;

import java.lang.reflect.Method;
import java.sql.ResultSet;
import net.ttddyy.dsproxy.ConnectionInfo;
import net.ttddyy.dsproxy.listener.MethodExecutionContext;
import net.ttddyy.dsproxy.proxy.ProxyConfig;
import net.ttddyy.dsproxy.proxy.ProxyLogicSupport;
import net.ttddyy.dsproxy.proxy.ResultSetProxyLogic;
import net.ttddyy.dsproxy.proxy.ResultSetProxyLogicFactory;

/**
 * The logic of datasource-proxy's result-set proxies, lean: every call goes straight to the
 * driver's result set, and a {@code next()} that returns true counts a row. datasource-proxy's own
 * logic makes a method-execution context, times the call and calls the method listeners for every
 * getter of every row, which costs more than the row itself on a fast network. Stateless but for
 * the result set; one per result set.
 */
final class RowCounting extends ProxyLogicSupport implements ResultSetProxyLogic {
  private final ResultSet resultSet;
  private final ProxyConfig config;
  private final GuardListener listener;

  private RowCounting(ResultSet resultSet, ProxyConfig config, GuardListener listener) {
    this.resultSet = resultSet;
    this.config = config;
    this.listener = listener;
  }

  /** The factory datasource-proxy calls for each result set. */
  static ResultSetProxyLogicFactory factory(GuardListener listener) {
    return (ResultSet resultSet, ConnectionInfo connection, ProxyConfig config) ->
        new RowCounting(resultSet, config, listener);
  }

  @Override
  public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
    String name = method.getName();
    if (isCommonMethod(name)) {
      return handleCommonMethod(name, resultSet, config, args);
    }
    Object result = proceedExecution(method, resultSet, args);
    if (result == Boolean.TRUE && name.equals("next")) {
      listener.row();
    }
    return result;
  }

  @Override
  protected Object performProxyLogic(
      Object proxy, Method method, Object[] args, MethodExecutionContext context) throws Throwable {
    return invoke(proxy, method, args);
  }
}
