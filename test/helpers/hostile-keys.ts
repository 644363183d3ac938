/** Store keys that try to leave the store's prefix, and ordinary ones (the security tests of every store). */
export const HOSTILE_KEYS = [
  '..', '.', '../x.png', 'a/../../x.png', 'renders/../../etc/passwd', 'a/./b.png', '/etc/passwd', '//host/share/x', 'a//b.png', 'a/', '/',
  '%2e%2e/x.png', '%2E%2E%2Fx.png', 'a/%2e%2e/%2e%2e/x', '..\\x.png', 'renders\\..\\..\\x.png', 'C:\\x.png', 'a\u0000.png', 'a.png\u0000../../x',
  '~/x.png', '$HOME/x', 'file:///etc/passwd', 's3://other-bucket/x', 'a/\u2025/x', 'a/\uff0e\uff0e/x', 'x'.repeat(513), '', ' ', 'a b.png', 'a/\n/b',
];
export const VALID_KEYS = ['a.png', 'flash/flash.123e4567-e89b-12d3-a456-426614174000.png', 'renders/2024/01/x_y-z.webp', 'a..b.png', '.hidden', 'a/.b/c..'];

