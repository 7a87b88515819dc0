import { describe, expect, it } from 'vitest';
import { searchHref, servicesHref } from '../src/services/links';
import { QUANTILES, metricParams } from '../src/services/queries';
import { chartWindow, rangeOf } from '../src/services/range';

describe('metricParams', () => {
  const window = chartWindow(rangeOf('1h'), 1_714_557_600_000, 1);

  it('asks for server spans of each service over the window', () => {
    const services = ['cart', 'pay & co'];
    const params = metricParams({ services, window, groupByOperation: false });
    expect(params.toString()).toBe(
      'service=cart&service=pay+%26+co&groupByOperation=false&endTs=1714557600000' +
        '&lookback=3600000&step=60000&ratePer=60000&spanKind=server',
    );
  });

  it('adds the quantile of a latencies query', () => {
    const params = metricParams({
      services: ['cart'],
      window,
      groupByOperation: true,
      quantile: QUANTILES.p95,
    });
    expect(params.get('quantile')).toBe('0.95');
    expect(params.get('groupByOperation')).toBe('true');
    expect(QUANTILES).toEqual({ p50: 0.5, p95: 0.95, p99: 0.99 });
  });
});

describe('links', () => {
  it('deep-links the services page with the service and the range', () => {
    expect(servicesHref('1h', 'checkout')).toBe('services?service=checkout&range=1h');
    expect(servicesHref('7d')).toBe('services?range=7d');
    expect(servicesHref('15m', 'a b/c')).toBe('services?service=a+b%2Fc&range=15m');
  });

  it("links to the search for a service's or an operation's traces", () => {
    expect(searchHref('checkout')).toBe('search?service=checkout');
    expect(searchHref('checkout', 'GET /cart?x=1')).toBe(
      'search?service=checkout&operation=GET+%2Fcart%3Fx%3D1',
    );
    expect(searchHref('checkout', '')).toBe('search?service=checkout&operation=');
  });
});
