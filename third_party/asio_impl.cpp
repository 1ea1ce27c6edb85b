// SPDX-License-Identifier: AGPL-3.0-or-later
// The one translation unit in the whole build that compiles Asio, Asio SSL and Beast
// (BOOST_ASIO_SEPARATE_COMPILATION, BOOST_BEAST_SEPARATE_COMPILATION); target lotse_asio_impl,
// linked by server/net and client-lib/net alike. Nothing else belongs in this file.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
